"""`clickcast canary replay`: run the canary's sequential test over recorded evidence, offline.

The evidence has one row per offer-day both versions predicted (shadow mode, so the paired design):
`look` (the analysis at which the row became available), `actual` (real clicks), `stable` and
`candidate` (predicted clicks), and optionally `stream` (each stream is its own canary). The rows of a
stream become cumulative sums per look, and every (stream, look) is decided at once by the same code
the operator calls (`clickcast.analysis.sequential.judge`); each stream ends at its first verdict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import numpy.typing as npt
import typer
from rich.console import Console
from rich.table import Table

from clickcast.analysis import sequential
from clickcast.analysis.metrics import poisson_unit_deviance
from clickcast.api.spec import Canary
from clickcast.api.validation import load_clickmodel
from clickcast.cli.errors import UserError, fail

if TYPE_CHECKING:
    import pyarrow as pa

canary_app = typer.Typer(help="The canary's sequential test, offline.", no_args_is_help=True)
stdout = Console(highlight=False, soft_wrap=True)

REQUIRED = ("look", "actual", "stable", "candidate")
MAX_CELLS = 200_000_000
"""Streams x looks the replay holds at once (8 bytes each, a few arrays)."""


@dataclass(frozen=True)
class StreamResult:
    """One stream's outcome: its first verdict (or its state at its last look)."""

    stream: Any
    verdict: str
    look: int
    observations: int
    deviance_ratio: float | None
    ratio_low: float | None
    ratio_high: float | None

    def to_json(self) -> dict[str, Any]:
        return {"stream": self.stream, "verdict": self.verdict, "look": self.look,
                "observations": self.observations, "devianceRatio": self.deviance_ratio,
                "ratioLow": self.ratio_low, "ratioHigh": self.ratio_high}  # fmt: skip


def _read(path: Path) -> pa.Table:
    # The jobs extra; only this command needs it.
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.csv as pacsv  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            names = set(pq.read_schema(path).names)
            return pq.read_table(path, columns=[c for c in ("stream", *REQUIRED) if c in names])
        if suffix == ".csv":
            return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc}") from exc
    except pa.ArrowInvalid as exc:
        raise UserError(f"{path}: not valid {suffix[1:]}: {str(exc).splitlines()[0]}") from exc
    raise UserError(f"{path}: expected a .parquet or .csv file")


def _numbers(table: pa.Table, name: str, path: Path, kinds: str = "iuf") -> npt.NDArray[np.float64]:
    column = table.column(name)
    if column.null_count:
        raise UserError(f"{path}: column {name!r} has {column.null_count} empty values")
    raw = np.asarray(column.to_numpy())
    if raw.dtype.kind not in kinds:
        what = "whole numbers" if kinds == "iu" else "numbers"
        raise UserError(f"{path}: column {name!r} must be {what}, got {column.type}")
    values: npt.NDArray[np.float64] = raw.astype(np.float64, copy=False)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise UserError(f"{path}: column {name!r} must be finite numbers of at least 0")
    return values


@dataclass(frozen=True)
class Evidence:
    streams: list[Any]
    stream_index: npt.NDArray[np.int64]
    look: npt.NDArray[np.int64]
    actual: npt.NDArray[np.float64]
    stable: npt.NDArray[np.float64]
    candidate: npt.NDArray[np.float64]


def load_evidence(path: Path) -> Evidence:
    """Read and check the evidence file; raise UserError naming the first problem."""
    table = _read(path)
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise UserError(f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                        f"(need {', '.join(REQUIRED)}; stream is optional)")  # fmt: skip
    look = _numbers(table, "look", path, kinds="iu").astype(np.int64)
    if look.size and look.min() < 1:
        raise UserError(f"{path}: column 'look' must count analyses from 1, found {look.min()}")
    if "stream" in table.column_names:
        encoded = table.column("stream").combine_chunks().dictionary_encode()
        if encoded.null_count:
            raise UserError(f"{path}: column 'stream' has {encoded.null_count} empty values")
        streams = encoded.dictionary.to_pylist()
        index = encoded.indices.to_numpy().astype(np.int64)
    else:
        streams, index = [None], np.zeros(table.num_rows, dtype=np.int64)
    return Evidence(streams, index, look, *(_numbers(table, c, path) for c in REQUIRED[1:]))


def replay_evidence(evidence: Evidence, settings: sequential.TestSettings) -> list[StreamResult]:
    """Each stream's first verdict (or its state at its last look), deciding all looks at once."""
    n_streams = len(evidence.streams)
    n_looks = int(evidence.look.max()) if evidence.look.size else 1
    if settings.max_looks is not None:
        n_looks = min(n_looks, settings.max_looks)  # a stream is Inconclusive at max_looks at the latest
    if n_streams * n_looks > MAX_CELLS:
        raise UserError(f"{n_streams} streams x {n_looks} looks is too many to replay at once")
    keep = evidence.look <= n_looks
    cell = evidence.stream_index[keep] * n_looks + (evidence.look[keep] - 1)
    stable = poisson_unit_deviance(evidence.actual[keep], evidence.stable[keep])
    candidate = poisson_unit_deviance(evidence.actual[keep], evidence.candidate[keep])

    def cumulative(weights: npt.NDArray[np.float64] | None) -> npt.NDArray[np.float64]:
        per_look = np.bincount(cell, weights=weights, minlength=n_streams * n_looks).astype(np.float64)
        return np.cumsum(per_look.reshape(n_streams, n_looks), axis=1)

    n = cumulative(None)
    sums = {"stable_n": n, "candidate_n": n, "pairs": n,
            "stable_sum": cumulative(stable), "stable_sum_sq": cumulative(stable * stable),
            "candidate_sum": cumulative(candidate), "candidate_sum_sq": cumulative(candidate * candidate),
            "cross_sum": cumulative(stable * candidate)}  # fmt: skip
    looks = np.arange(1, n_looks + 1)
    decisions = sequential.judge(sums, settings, paired=True, looks=looks)
    last = np.zeros(n_streams, dtype=np.int64)
    np.maximum.at(last, evidence.stream_index[keep], evidence.look[keep] - 1)
    verdict = np.where(looks[None, :] - 1 <= last[:, None], decisions.verdict, sequential.RUNNING).astype(np.int8)
    first = sequential.first_decisive(verdict, last).tolist()

    def value(array: npt.NDArray[np.float64], i: int) -> float | None:
        x = float(array[i, first[i]])
        return x if np.isfinite(x) else None

    return [
        StreamResult(
            stream=evidence.streams[i],
            verdict=str(sequential.VERDICTS[int(verdict[i, first[i]])]),
            look=int(first[i]) + 1,
            observations=int(decisions.observations[i, first[i]]),
            deviance_ratio=value(decisions.deviance_ratio, i),
            ratio_low=value(decisions.ratio_low, i),
            ratio_high=value(decisions.ratio_high, i),
        )
        for i in range(n_streams)
    ]


def _settings(model_file: Path | None) -> sequential.TestSettings:
    if model_file is None:
        return sequential.TestSettings.from_canary(Canary())
    try:
        model = load_clickmodel(model_file)
    except OSError as exc:
        raise UserError(f"{model_file}: cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    return sequential.TestSettings.from_canary(model.spec.canary)


def _number(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


@canary_app.command()
def replay(
    evidence: Annotated[Path, typer.Argument(help="Parquet or csv: [stream,] look, actual, stable, candidate.")],
    model_file: Annotated[
        Path | None,
        typer.Option("--model-file", help="A ClickModel whose spec.canary sets the test (default: defaults)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per stream per line.")] = False,
) -> None:
    """Replay the canary's always-valid sequential test over recorded offer-days, one verdict per stream.

    Rows are offer-days both versions predicted (the paired design of shadow mode). Each stream is
    analysed after every look, as the operator would, and stops at its first verdict: Pass, Fail,
    Inconclusive (no verdict by maxDuration / interval looks) or Running (the evidence ended first).
    """
    try:
        settings = _settings(model_file)
        results = replay_evidence(load_evidence(evidence), settings)
    except UserError as exc:
        fail(str(exc))
    if as_json:
        for result in results:
            typer.echo(json.dumps(result.to_json()))
        return
    table = Table("stream", "verdict", "look", "offer-days", "deviance ratio", "low", "high",
                  title=f"canary replay: margin {settings.margin:g}, confidence {settings.confidence_level:g}, "
                        f"min observations {settings.min_observations}, max looks {settings.max_looks}")  # fmt: skip
    for r in results:
        table.add_row("-" if r.stream is None else str(r.stream), r.verdict, str(r.look), str(r.observations),
                      _number(r.deviance_ratio), _number(r.ratio_low), _number(r.ratio_high))  # fmt: skip
    stdout.print(table)
