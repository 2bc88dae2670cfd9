"""`clickcast data generate`, `train`, `score` and `evaluate`: the Spark jobs from the command line.

The spark-submit entry files in jobs/ call these same commands through `run_job`, which imports nothing
but this module: the jobs image has the `jobs` extra only (no kubernetes, kopf, BentoML or dev cluster).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clickcast.cli.errors import fail

stdout = Console(highlight=False, soft_wrap=True)
progress_console = Console(stderr=True, highlight=False)
T = TypeVar("T")

data_app = typer.Typer(help="Click datasets.", no_args_is_help=True)

MasterOpt = Annotated[
    str | None,
    typer.Option("--master", help="Spark master URL (default: the spec's, else spark-submit's, else local[*])."),
]
FormatOpt = Annotated[str, typer.Option("--format", help="Input format: parquet or csv.")]


@contextmanager
def _user_errors() -> Iterator[None]:
    """Known failures (bad data, bad spec, store refusals) end in one line, never a traceback."""
    from clickcast.jobs.data import ContractError  # noqa: PLC0415 - keeps `clickcast --help` fast
    from clickcast.store.artifacts import StoreError  # noqa: PLC0415

    try:
        yield
    except (ContractError, StoreError, ValueError, OSError) as exc:
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, code=1)


def _object_storage() -> Any:
    """Use the mounted storageOptionsSecret (CLICKCAST_STORAGE_OPTIONS) for every s3:// URL of this process."""
    from clickcast.store import credentials  # noqa: PLC0415

    if (options := credentials.from_environment()) is not None:
        credentials.install(options)
    return options


def _spark(master: str | None, app_name: str) -> Any:
    """The job's session, with S3A pointed at the same storage options as fsspec."""
    from clickcast.jobs import s3a  # noqa: PLC0415
    from clickcast.jobs.session import spark_session  # noqa: PLC0415

    options = _object_storage()
    spark = spark_session(master, app_name)
    if options is not None:
        s3a.configure(spark, options)
    return spark


def _staged(work: Callable[[Callable[[str], None]], T]) -> T:
    started = time.monotonic()
    with progress_console.status("starting Spark") as status:

        def say(message: str) -> None:  # with the seconds since the job started: where a slow run spends them
            status.update(message)
            progress_console.print(f"[dim]· {time.monotonic() - started:6.1f} s  {message}[/]")

        return work(say)


@data_app.command("generate")
def generate_command(
    *,
    out: Annotated[str, typer.Option("--out", help="fsspec URL of the output directory (parquet files).")],
    rows: Annotated[int, typer.Option("--rows", min=1, help="Rows to generate.")] = 1_000_000,
    days: Annotated[int, typer.Option("--days", min=1, help="Days covered.")] = 90,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 0,
    merchants: Annotated[int, typer.Option("--merchants", min=1)] = 3000,
    categories: Annotated[int, typer.Option("--categories", min=1)] = 300,
    shift: Annotated[
        list[int] | None, typer.Option("--shift", help="Day index of a regime shift (repeatable).")
    ] = None,
    shift_strength: Annotated[float, typer.Option("--shift-strength")] = 0.5,
) -> None:
    """Generate a realistic synthetic click dataset (long-tailed offers, seasonality, over-dispersed counts)."""
    from clickcast.jobs.generate import GeneratorConfig, generate  # noqa: PLC0415

    cfg = GeneratorConfig(
        rows=rows, days=days, seed=seed, merchants=merchants, categories=categories,
        shifts=tuple(shift or ()), shift_strength=shift_strength,
    )  # fmt: skip
    columns = [TextColumn("generating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with _user_errors(), Progress(*columns, console=progress_console, transient=True) as bar:
        _object_storage()
        task = bar.add_task("rows", total=rows)
        written = generate(cfg, out, progress=lambda n: bar.advance(task, n))
    stdout.print(f"wrote {written} rows over {days} days to {out}")


def train(
    *,
    model_file: Annotated[Path | None, typer.Option("--model-file", "-f", help="ClickModel manifest (YAML).")] = None,
    data: Annotated[str | None, typer.Option("--data", help="Training data URL (overrides the manifest).")] = None,
    store: Annotated[str | None, typer.Option("--store", help="Model store URL (overrides the manifest).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Model name (default: the manifest's).")] = None,
    master: MasterOpt = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="xgboost workers (default: slots).")] = None,
    output: Annotated[Path | None, typer.Option("--output", help="Write the result JSON here.")] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="Version id to publish (default: from the time and data).")
    ] = None,
    reference_model: Annotated[
        str | None,
        typer.Option("--reference-model", help="URI of the serving version to measure on the same test window."),
    ] = None,
    reference_sha256: Annotated[
        str | None, typer.Option("--reference-sha256", help="Its manifest sha256 (refused if it differs).")
    ] = None,
) -> None:
    """Train a model version on Spark, publish it to the store and print its metrics beside the baseline's."""
    with _user_errors():
        spec, model_name = _load_spec(model_file, data, store, name)
        from clickcast.jobs.session import under_spark_submit  # noqa: PLC0415
        from clickcast.jobs.train import Reference, metrics_table  # noqa: PLC0415
        from clickcast.jobs.train import train as run_train  # noqa: PLC0415

        def work(say: Callable[[str], None]) -> Any:
            spec_master = spec.training.master if model_file and not under_spark_submit() else None
            spark = _spark(master or spec_master, "clickcast-train")
            ref = Reference(reference_model, reference_sha256) if reference_model else None
            return run_train(spark, spec, model_name, num_workers=workers, progress=say, version=version, reference=ref)

        result = _staged(work)
        if output is not None:
            output.write_text(json.dumps(result.to_json(), indent=1, default=str), encoding="utf-8")
    table = Table(
        "metric", f"model ({result.algorithm})", "baseline (glm)", title=f"{model_name} {result.status.version}"
    )
    for row in metrics_table(result):
        table.add_row(*row)
    stdout.print(table)
    stdout.print(
        f"version {result.status.version}\nuri {result.status.uri}\nmanifest sha256 {result.status.manifest_sha256}"
    )
    if result.bad_rows.total:
        reasons = ", ".join(f"{k}: {v}" for k, v in result.bad_rows.reasons.items())
        stdout.print(f"rejected {result.bad_rows.total} of {result.read_rows} rows ({reasons})")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _load_spec(model_file: Path | None, data: str | None, store: str | None, name: str | None) -> tuple[Any, str]:
    from clickcast.api.spec import ClickModelSpec  # noqa: PLC0415
    from clickcast.api.validation import load_clickmodel  # noqa: PLC0415

    if model_file is not None:
        resource = load_clickmodel(model_file)
        wire = resource.spec.to_wire()
        model_name = name or resource.metadata.name
    elif data is None:
        fail("give --model-file, or --data with --store and --name")
    else:
        wire, model_name = {"data": {"url": data}}, name or "clicks"
    if data is not None:
        wire["data"]["url"] = data
    if store is not None:
        wire.setdefault("store", {})["url"] = store
    return ClickModelSpec.model_validate(wire), model_name


def score(
    *,
    model: Annotated[str, typer.Option("--model", help="URI of the model version in the store.")],
    data: Annotated[str, typer.Option("--data", help="Dataset to score (contract columns).")],
    out: Annotated[str, typer.Option("--out", help="Output parquet directory (must not exist).")],
    fmt: FormatOpt = "parquet",
    master: MasterOpt = None,
    sha256: Annotated[
        str | None, typer.Option("--sha256", help="Expected manifest sha256 of the version (refused if it differs).")
    ] = None,
) -> None:
    """Batch predictions for a dataset, written to parquet with the model version."""
    with _user_errors():
        from clickcast.jobs.score import score as run_score  # noqa: PLC0415

        def work(say: Callable[[str], None]) -> Any:
            spark = _spark(master, "clickcast-score")
            say(f"scoring {data} with {model}")
            return run_score(spark, model, data, out, fmt, manifest_sha256=sha256)

        result = _staged(work)
    stdout.print(f"scored {result.rows} rows with {result.version} into {result.output}")
    if result.bad_rows.total:
        stdout.print(f"rejected {result.bad_rows.total} rows: {result.bad_rows.reasons}")


def evaluate(
    *,
    predictions: Annotated[str, typer.Option("--predictions", help="Prediction log URL.")],
    actuals: Annotated[str, typer.Option("--actuals", help="Dataset with the real clicks.")],
    out: Annotated[str, typer.Option("--out", help="Output directory (joined.parquet, metrics.json).")],
    fmt: FormatOpt = "parquet",
    segment: Annotated[list[str] | None, typer.Option("--segment", help="Segment column (repeatable).")] = None,
    master: MasterOpt = None,
    model_file: Annotated[
        Path | None, typer.Option("--model-file", "-f", help="ClickModel manifest: its revenue model for margins.")
    ] = None,
    after: Annotated[
        datetime | None, typer.Option("--after", formats=["%Y-%m-%d"], help="Only offer-days after this day.")
    ] = None,
    stable_version: Annotated[
        str | None, typer.Option("--stable-version", help="Compare this stable version with --candidate-version.")
    ] = None,
    candidate_version: Annotated[str | None, typer.Option("--candidate-version", help="The canary's version.")] = None,
    paired: Annotated[
        bool, typer.Option("--paired", help="Shadow canary: pair the two versions' predictions per request.")
    ] = False,
) -> None:
    """Join predictions with real clicks; write per-version and per-segment metrics (and a canary comparison)."""
    if (stable_version is None) != (candidate_version is None):
        fail("--stable-version and --candidate-version go together", code=2)
    with _user_errors():
        from clickcast.analysis.evidence import Comparison  # noqa: PLC0415
        from clickcast.api.validation import load_clickmodel  # noqa: PLC0415
        from clickcast.jobs.evaluate import evaluate as run_evaluate  # noqa: PLC0415

        revenue = load_clickmodel(model_file).spec.validation.revenue if model_file else None
        compare = (
            Comparison(stable_version, candidate_version, paired) if stable_version and candidate_version else None
        )

        def work(say: Callable[[str], None]) -> Any:
            spark = _spark(master, "clickcast-evaluate")
            say(f"joining {predictions} with {actuals}")
            return run_evaluate(
                spark, predictions, actuals, out, fmt=fmt, segment_columns=segment or ["device"], revenue=revenue,
                after=after.date() if after else None, compare=compare,
            )  # fmt: skip

        result = _staged(work)
    for v in result.report.versions:
        deviance = v.metrics.poisson_deviance
        stdout.print(f"{v.model_version} ({v.role}): {v.metrics.rows} rows, deviance {_fmt(deviance)}")
    stdout.print(f"{result.rows} predictions joined, {result.unmatched} without clicks yet; wrote {result.output}")


JOBS: dict[str, Callable[..., None]] = {"train": train, "score": score, "evaluate": evaluate}
"""The commands an entry file of the jobs image runs (jobs/train.py, score.py, evaluate.py)."""


def run_job(name: str, argv: list[str] | None = None) -> None:
    """Run one job command as a program of its own: `spark-submit jobs/train.py --help` shows train's options."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(name)(JOBS[name])
    app(argv if argv is not None else sys.argv[1:], prog_name=f"{name}.py")
