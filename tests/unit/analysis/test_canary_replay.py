"""`clickcast canary replay`: the real command on csv and parquet evidence, checked against `assess`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from clickcast.analysis import sequential
from clickcast.api.spec import Canary
from clickcast.api.status import Verdict
from clickcast.cli.main import app
from tests.manifests import SAMPLES

pytestmark = pytest.mark.unit
runner = CliRunner()


def evidence(rows: int = 60_000, looks: int = 30, seed: int = 4) -> pd.DataFrame:
    """Three streams: a clearly worse candidate, an equal one, and one with a short history."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.6, 2.0 / 0.6, rows)
    stream = rng.choice(["worse", "equal", "short"], rows, p=[0.45, 0.45, 0.1])
    noise = np.where(stream == "worse", 0.8, 0.4)
    look = np.sort(rng.integers(1, looks + 1, rows))
    look = np.where(stream == "short", np.minimum(look, 3), look)
    return pd.DataFrame({
        "stream": stream, "look": look, "actual": rng.poisson(lam),
        "stable": lam * np.exp(0.4 * rng.standard_normal(rows) - 0.08),
        "candidate": lam * np.exp(noise * rng.standard_normal(rows) - noise**2 / 2),
    })  # fmt: skip


def replay(*args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["canary", "replay", *args, "--json"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def expected(frame: pd.DataFrame, stream: str, settings: sequential.TestSettings) -> sequential.Assessment:
    """`assess` on the sums of the stream's rows, look by look, stopping at the first verdict."""
    rows = frame[frame["stream"] == stream]
    last = int(rows["look"].max())
    for look in range(1, last + 1):
        seen = rows[rows["look"] <= look]
        sums = sequential.paired_sums(seen["actual"], seen["stable"], seen["candidate"])
        a = sequential.assess(sums, settings, paired=True, looks=look)
        if a.verdict is not Verdict.RUNNING or look == last:
            return a
    raise AssertionError("unreachable")


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_replay_matches_assess_on_the_same_sums(tmp_path: Path, suffix: str) -> None:
    frame = evidence()
    path = tmp_path / f"evidence.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    lines = {line["stream"]: line for line in replay(str(path))}
    assert set(lines) == {"worse", "equal", "short"}
    settings = sequential.TestSettings.from_canary(Canary())
    for stream, line in lines.items():
        a = expected(frame, stream, settings)
        assert line["verdict"] == a.verdict.value
        assert line["observations"] == a.observations
        assert line["devianceRatio"] == pytest.approx(a.deviance_ratio, rel=1e-9)
        assert line["ratioLow"] == pytest.approx(a.ratio_low, rel=1e-9)
        assert line["ratioHigh"] == pytest.approx(a.ratio_high, rel=1e-9)
    assert lines["worse"]["verdict"] == "Fail"
    assert int(str(lines["worse"]["look"])) < 30  # stops at its first verdict
    assert lines["short"] == {**lines["short"], "verdict": "Running", "look": 3}


def test_model_file_settings_take_effect(tmp_path: Path) -> None:
    path = tmp_path / "evidence.parquet"
    evidence().to_parquet(path)
    manifest = yaml.safe_load(SAMPLES[0].read_text())
    manifest["spec"].setdefault("canary", {}).update({"minObservations": 10**9, "interval": "1h", "maxDuration": "10h"})
    model = tmp_path / "model.yaml"
    model.write_text(yaml.safe_dump(manifest))
    lines = {line["stream"]: line for line in replay(str(path), "--model-file", str(model))}
    assert lines["worse"]["verdict"] == "Inconclusive" and lines["worse"]["look"] == 10  # 10h / 1h looks
    assert lines["short"]["verdict"] == "Running"


def test_without_stream_column_the_file_is_one_stream(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    evidence().query("stream == 'worse'").drop(columns="stream").to_csv(path, index=False)
    (line,) = replay(str(path))
    assert (line["stream"], line["verdict"]) == (None, "Fail")


def test_readable_table(tmp_path: Path) -> None:
    path = tmp_path / "evidence.csv"
    evidence().to_csv(path, index=False)
    result = runner.invoke(app, ["canary", "replay", str(path)])
    assert result.exit_code == 0, result.output
    assert "worse" in result.stdout and "Fail" in result.stdout and "deviance ratio" in result.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["candidate", "look"]), "missing columns look, candidate"),
        (lambda f: f.assign(look=f["look"] + 0.5), "column 'look' must be whole numbers"),
        (lambda f: f.assign(actual=-f["actual"] - 1), "column 'actual' must be finite numbers of at least 0"),
        (lambda f: f.assign(stable="x"), "column 'stable' must be numbers"),
        (lambda f: f.assign(look=f["look"] - 1), "column 'look' must count analyses from 1"),
    ],
    ids=["missing", "fractional-look", "negative", "text", "look-zero"],
)
def test_bad_evidence_is_one_line_and_exit_2(tmp_path: Path, change: object, message: str) -> None:
    path = tmp_path / "bad.csv"
    change(evidence(rows=2000)).to_csv(path, index=False)  # type: ignore[operator]
    result = runner.invoke(app, ["canary", "replay", str(path)])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr


def test_unreadable_inputs_are_one_line(tmp_path: Path) -> None:
    for args, message in [
        ([str(tmp_path / "nothing.parquet")], "cannot read"),
        ([str(tmp_path / "x.json")], "expected a .parquet or .csv file"),
        ([str(SAMPLES[0]), "--model-file", str(tmp_path / "none.yaml")], "cannot read"),
    ]:
        (tmp_path / "x.json").write_text("{}")
        result = runner.invoke(app, ["canary", "replay", *args])
        assert result.exit_code == 2, result.output
        assert message in result.stderr
