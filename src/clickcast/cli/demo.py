"""`clickcast demo`: the whole lifecycle on this machine in a few minutes (what `make demo` runs)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from clickcast.cli.errors import fail
from clickcast.cli.stopping import Stopper

console = Console(highlight=False, soft_wrap=True)
SAMPLE = {"date": "2026-03-01", "categoryId": "3", "merchantId": "101", "category": "shoes", "device": "mobile",
          "price": 10.5}  # fmt: skip


def _report(directory: Path, result: Any) -> Path:
    from clickcast.analysis.evidence import EvaluationReport  # noqa: PLC0415
    from clickcast.report import build_report  # noqa: PLC0415
    from clickcast.store import layout  # noqa: PLC0415

    runs = sorted(Path(layout.evaluation_dir(str(directory / "store"), "offers", "x")).parent.glob("*/metrics.json"))
    evaluations = [EvaluationReport.model_validate_json(p.read_text()) for p in runs]
    out = directory / "report.html"
    out.write_text(build_report("offers", result.status, evaluations))
    return out


def _versions(status: Any) -> Table:
    """The release history, oldest first."""
    table = Table(title="versions", title_justify="left")
    for column in ("version", "decision", "test deviance", "reason", "git"):
        table.add_column(column)
    for entry in reversed(status.history):
        m = entry.metrics
        deviance = f"{m.poisson_deviance:.4f}" if m is not None and m.poisson_deviance is not None else "-"
        table.add_row(entry.version, str(entry.decision), deviance, entry.reason, (entry.git_commit or "-")[:10])
    return table


def _summary(directory: Path, result: Any, report: Path) -> None:
    console.print(_versions(result.status))
    canary = result.canary
    if canary is not None and canary.deviance_ratio is not None:
        console.print(f"canary: {canary.verdict} after {canary.analyses} look(s); deviance ratio "
                      f"{canary.deviance_ratio:.3f} [{canary.ci_low:.3f}, {canary.ci_high:.3f}] on "
                      f"{canary.candidate_observations:,} offer-days")  # fmt: skip
    git = subprocess.run(["git", "--git-dir", str(result.git_dir), "log", "--format=%h %s", "-3"],
                         capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    console.print(f"Git ({result.git_dir}):\n  " + "\n  ".join(git.splitlines()))
    console.print(f"requests: {result.traffic.sent:,} sent, {result.traffic.failed} failed")
    for failure in result.traffic.failures:
        console.print(f"  [red]{failure}[/]")
    console.print(f"report: {report}")


def demo(
    *,
    directory: Annotated[Path, typer.Option("--dir", help="Where everything goes (replaced).")] = Path(".demo"),
    once: Annotated[bool, typer.Option(help="End after the lifecycle instead of serving on until Ctrl-C.")] = False,
    rows: Annotated[int, typer.Option(min=10_000, help="Offer-days generated.")] = 120_000,
    port: Annotated[int, typer.Option(help="Port of the stable endpoint (0: any free port).")] = 0,
    cluster: Annotated[
        bool,
        typer.Option(
            help="Tell the story on the cluster of KUBECONFIG, where the operator runs (its pods "
            "must reach --dir: the local cluster's workload runner)."
        ),
    ] = False,
    namespace: Annotated[str, typer.Option(help="With --cluster: the ClickModel's namespace.")] = "clickcast-demo",
    object_store: Annotated[
        Path | None,
        typer.Option(
            help="With --cluster: keep the lake and the store on the object store `clickcast dev objectstore up "
            "--dir` started (its credentials only in a Secret of the namespace), not under --dir.",
        ),
    ] = None,
    git_remote: Annotated[
        Path | None,
        typer.Option(
            help="With --cluster: record promotions in the repository of the Git server `clickcast dev gitserver up "
            "--dir` started (its credentials only in a Secret of the namespace).",
        ),
    ] = None,
) -> None:
    """Train, serve, retrain on a moved market, shadow-canary, promote through Git, report: one ClickModel."""
    from clickcast.demo.story import DemoConfig, DemoError, Story  # noqa: PLC0415

    directory = directory.resolve()
    if cluster:
        _on_cluster(directory, namespace, rows, object_store, git_remote)
        return
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    spinner = console.status("starting")
    story = Story(DemoConfig(directory, rows=rows, port=port), lambda line: console.print(line, markup=False),
                  progress=spinner.update)  # fmt: skip

    async def finish(result: Any) -> None:
        spinner.stop()
        report = await asyncio.to_thread(_report, directory, result)
        _summary(directory, result, report)
        async with httpx.AsyncClient() as client:
            answer = (await client.post(f"{result.endpoint}/predict", json=SAMPLE)).json()
        curl = f"curl -s {result.endpoint}/predict -H 'content-type: application/json' -d '{json.dumps(SAMPLE)}'"
        console.print(f"\n$ {curl}\n{json.dumps(answer)}")
        if not once:
            console.print("\nserving on; Ctrl-C stops everything")
            await asyncio.Event().wait()

    stopper = Stopper()
    spinner.start()
    try:
        result: Any = asyncio.run(stopper.run(story.run(finish)))
    except asyncio.CancelledError:
        leftovers = story.runner.leftovers if story.runner is not None else None
        if not stopper.report(console, leftovers, "the demo"):
            raise typer.Exit(1) from None
        return
    except DemoError as exc:
        fail(str(exc), code=1)
    finally:
        with contextlib.suppress(OSError):  # the terminal is gone (SIGHUP)
            spinner.stop()
    if story.runner is not None and story.runner.leftovers:
        fail(f"the demo ended, but not every process it started: {story.runner.leftovers}", code=1)
    if result.traffic.failed:
        fail(f"{result.traffic.failed} requests failed (see above)", code=1)


def _on_cluster(directory: Path, namespace: str, rows: int, object_store: Path | None,
                git_remote: Path | None) -> None:  # fmt: skip
    from clickcast.demo.cluster import ClusterStory, cluster_config  # noqa: PLC0415
    from clickcast.demo.story import DemoError  # noqa: PLC0415
    from clickcast.devcluster import gitserver  # noqa: PLC0415
    from clickcast.devcluster.errors import DevClusterError  # noqa: PLC0415
    from clickcast.devcluster.objectstore import storage_options  # noqa: PLC0415

    try:
        storage = storage_options(object_store) if object_store is not None else None
        git = gitserver.remote(git_remote) if git_remote is not None else None
    except DevClusterError as exc:
        fail(str(exc), code=1)

    for part in ("source", "lake", "store"):  # the rest of --dir is the caller's (logs)
        shutil.rmtree(directory / part, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        status = ClusterStory(cluster_config(directory, rows), namespace,
                              lambda line: console.print(line, markup=False), storage, git).run()  # fmt: skip
    except DemoError as exc:
        fail(str(exc), code=1)
    console.print(_versions(status))
