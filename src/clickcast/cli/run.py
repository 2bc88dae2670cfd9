"""`clickcast run CLICKMODEL.yaml`: the whole lifecycle on this machine (the embedded default, no cluster)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from clickcast.cli.errors import fail
from clickcast.cli.stopping import Stopper, say

console = Console(stderr=True, highlight=False, soft_wrap=True)


def show_event(event: object) -> None:
    from clickcast.core.plan import Event, EventType  # noqa: PLC0415

    assert isinstance(event, Event)
    style = "yellow" if event.type is EventType.WARNING else "cyan"
    console.print(f"[{style}]{event.reason}[/] {event.message}", markup=True)


def summary_line(status: object) -> str:
    """`kubectl get clickmodels` in one line: phase, stable, candidate."""
    from clickcast.api.status import ClickModelStatus  # noqa: PLC0415

    assert isinstance(status, ClickModelStatus)
    stable = status.stable.version if status.stable else "-"
    candidate = status.candidate.version if status.candidate else "-"
    return f"phase {status.phase}  stable {stable}  candidate {candidate}"


def run(
    model_file: Annotated[Path, typer.Argument(help="The ClickModel manifest (YAML); edits are picked up.")],
    *,
    once: Annotated[
        bool, typer.Option(help="End after one lifecycle (a release decided) instead of serving on.")
    ] = False,
    state_dir: Annotated[
        Path | None, typer.Option(help="Status file, run logs, Git clones (default: .clickcast/<name>).")
    ] = None,
    port: Annotated[int, typer.Option(help="Port of the stable prediction endpoint (0: any free port).")] = 3000,
    master: Annotated[str | None, typer.Option(help="Spark master of the runs (default: the spec's).")] = None,
) -> None:
    """Run a ClickModel's lifecycle here: train, validate, canary, promote, monitor, with local processes."""
    from clickcast.api.validation import load_clickmodel  # noqa: PLC0415 - keeps `clickcast --help` fast
    from clickcast.local.runner import LocalRunner  # noqa: PLC0415

    try:
        name = load_clickmodel(model_file).metadata.name
    except (OSError, ValueError) as exc:
        fail(str(exc))
    state = state_dir or Path(".clickcast") / name
    try:
        runner = LocalRunner(model_file, state, port=port, master=master, on_event=show_event,
                             on_notice=lambda line: say(console, line))  # fmt: skip
    except (OSError, ValueError) as exc:
        fail(str(exc), code=1)
    last = [""]
    stopper = Stopper()

    async def main() -> object:
        async with runner:
            console.print(f"[bold]{name}[/]: prediction endpoint {runner.endpoint}, status {state / (name + '.yaml')}")

            def on_step(snapshot: object) -> None:
                line = summary_line(getattr(snapshot, "status"))  # noqa: B009
                if line != last[0]:
                    last[0] = line
                    console.print(f"[dim]{line}[/]")

            return await runner.run(once=once, on_step=on_step)

    try:
        status = asyncio.run(stopper.run(main()))
    except asyncio.CancelledError:
        stopped = stopper.report(console, runner.leftovers, "it", then=" (run it again to continue)")
        raise typer.Exit(stopper.exit_code if stopped else 1) from None
    except (OSError, ValueError) as exc:
        fail(str(exc), code=1)
    from clickcast.api.status import Phase  # noqa: PLC0415

    if runner.leftovers:
        fail(f"{name} ended, but not every process it started: {runner.leftovers}", code=1)
    if getattr(status, "phase", None) is Phase.FAILED:
        fail(f"{name} failed: {summary_line(status)}; see {state / (name + '.yaml')} and the logs in {state}/runs "
             f"and {state}/serving", code=1)  # fmt: skip
