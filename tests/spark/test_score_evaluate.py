"""Batch scoring and evaluation produce their documented outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from clickcast.analysis.metrics import compute_metrics
from clickcast.api.roles import Role
from clickcast.cli.main import app
from clickcast.features.contract import CLICKS, DATE, INPUT_COLUMNS
from clickcast.jobs.evaluate import JOINED_COLUMNS, evaluate
from clickcast.jobs.score import score
from clickcast.model.artifact import load_predictor
from clickcast.store import prediction_log as log
from tests.spark.conftest import Trained, small_spec

pytestmark = pytest.mark.spark


def _last_days(dataset: Path, days: int) -> pd.DataFrame:
    df = pq.read_table(dataset).to_pandas()
    dates = pd.to_datetime(df[DATE])
    return df[dates > dates.max() - pd.Timedelta(days=days)].reset_index(drop=True)


def test_score_writes_predictions_of_the_served_model(
    spark: SparkSession, trained: Trained, dataset: Path, tmp_path: Path
) -> None:
    uri = trained.result.status.uri
    assert uri is not None
    rows = _last_days(dataset, 3)
    rows.to_parquet(tmp_path / "input.parquet")
    result = score(spark, uri, f"file://{tmp_path}/input.parquet", f"file://{tmp_path}/scored")
    out = pq.read_table(tmp_path / "scored").to_pandas()
    assert result.rows == len(rows) == len(out)
    assert list(out.columns) == [*INPUT_COLUMNS, CLICKS, "predicted", "model", "model_version"]
    assert set(out["model_version"]) == {trained.result.status.version}
    out = out.sort_values(["date", "categoryId", "merchantId", "device"]).reset_index(drop=True)
    expected = load_predictor(uri).predict({c: out[c].to_numpy() for c in INPUT_COLUMNS})
    np.testing.assert_allclose(out["predicted"], expected, rtol=1e-6)


def test_evaluate_joins_the_prediction_log_with_real_clicks(
    spark: SparkSession, trained: Trained, dataset: Path, tmp_path: Path
) -> None:
    uri = trained.result.status.uri
    assert uri is not None
    predictor = load_predictor(uri)
    rows = _last_days(dataset, 2)
    days = sorted(rows[DATE].astype(str).unique())
    logdir = tmp_path / "log"
    for role, version, scale in (("stable", "v-stable", 1.0), ("canary", predictor.version_id, 1.0)):
        part = rows.assign(
            request_id=[f"{role}-{i}" for i in range(len(rows))],
            ts=pd.Timestamp("2026-03-01", tz="UTC"),
            date=rows[DATE].astype(str),
            model="offers",
            model_version=version,
            role=role,
            predicted=predictor.predict({c: rows[c].to_numpy() for c in INPUT_COLUMNS}) * scale,
        )
        for day in days:
            target = logdir / f"date={day}"
            target.mkdir(parents=True, exist_ok=True)
            table = pa.Table.from_pandas(part[part["date"] == day][list(log.COLUMNS)], preserve_index=False)
            pq.write_table(table, target / f"part-{role}.parquet")
    # A day whose clicks have not arrived yet.
    late = rows.head(5).assign(
        request_id="late", ts=pd.Timestamp("2026-03-02", tz="UTC"), date="2099-01-01", model="offers",
        model_version="v-stable", role="stable", predicted=1.0,
    )  # fmt: skip
    (logdir / "date=2099-01-01").mkdir()
    pq.write_table(
        pa.Table.from_pandas(late[list(log.COLUMNS)], preserve_index=False), logdir / "date=2099-01-01/p.parquet"
    )

    result = evaluate(
        spark, f"file://{logdir}", f"file://{dataset}", f"file://{tmp_path}/eval", segment_columns=["device"]
    )
    assert result.rows == 2 * len(rows) and result.unmatched == 5
    joined = pq.read_table(tmp_path / "eval" / "joined.parquet").to_pandas()
    assert list(joined.columns) == list(JOINED_COLUMNS)
    assert len(joined) == 2 * len(rows)
    report = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    versions = {(v["modelVersion"], v["role"]): v["metrics"] for v in report["versions"]}
    assert set(versions) == {("v-stable", "stable"), (predictor.version_id, "canary")}
    # Same predictions for both roles: same metrics, equal to the pure definition on the joined rows.
    assert versions[("v-stable", "stable")] == pytest.approx(versions[(predictor.version_id, "canary")])
    stable = joined[joined["role"] == "stable"]
    expected = compute_metrics(stable["actual"], stable["predicted"], stable["price"]).to_wire()
    assert versions[("v-stable", "stable")] == pytest.approx(expected)
    assert {s["value"] for s in report["segments"]} == {"desktop", "mobile", "tablet"}
    assert {d["date"] for d in report["daily"]} == set(days)

    # A retried pod runs the same evaluation into the same directory (its first attempt may have written the
    # joined rows and died): the run replaces it, with the same result.
    (tmp_path / "eval" / "metrics.json").unlink()
    again = evaluate(
        spark, f"file://{logdir}", f"file://{dataset}", f"file://{tmp_path}/eval", segment_columns=["device"]
    )
    assert again.report == result.report
    assert len(pq.read_table(tmp_path / "eval" / "joined.parquet")) == 2 * len(rows)


def test_glm_algorithm_publishes_a_servable_glm(spark: SparkSession, dataset: Path, tmp_path: Path) -> None:
    from clickcast.jobs.train import train

    result = train(spark, small_spec(dataset, tmp_path, name="glm"), "offers-glm")
    assert result.status.uri is not None
    predictor = load_predictor(result.status.uri)
    assert "glm.json" in predictor.version.files and "model.json" not in predictor.version.files
    assert result.status.metrics == result.status.baseline_metrics  # the model is the baseline
    rows = _last_days(dataset, 1)
    assert np.all(predictor.predict({c: rows[c].to_numpy() for c in INPUT_COLUMNS}) > 0)


def test_cli_reports_user_mistakes_in_one_line(spark: SparkSession, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--data", f"file://{tmp_path}/missing", "--store", f"file://{tmp_path}/s"])
    assert result.exit_code == 1
    assert "cannot read parquet data" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["train"])
    assert result.exit_code == 2 and "--model-file" in result.output


def _write_log(logdir: Path, frames: list[pd.DataFrame]) -> None:
    part = pd.concat(frames, ignore_index=True)
    for day, rows in part.groupby("date"):
        target = logdir / f"date={day}"
        target.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(rows[list(log.COLUMNS)], preserve_index=False)
        pq.write_table(table, target / f"part-{len(list(target.iterdir()))}.parquet")


def test_evaluate_sums_the_canary_evidence_of_new_days_only(spark: SparkSession, dataset: Path, tmp_path: Path) -> None:
    from clickcast.analysis.evidence import Comparison
    from clickcast.analysis.metrics import poisson_unit_deviance

    rows = _last_days(dataset, 3).reset_index(drop=True)
    days = sorted(rows[DATE].astype(str).unique())
    rng = np.random.default_rng(3)
    base = rows[CLICKS].to_numpy() * 0.8 + 0.5
    predicted = {"stable": base, "shadow": base * rng.uniform(0.7, 1.4, len(rows)), "canary": base * 1.1}

    def logged(role: str, version: str, ids: str) -> pd.DataFrame:
        return rows.assign(request_id=[f"{ids}-{i}" for i in range(len(rows))], ts=pd.Timestamp("2026-03-01", tz="UTC"),
                           date=rows[DATE].astype(str), model="offers", model_version=version, role=role,
                           predicted=predicted[role])  # fmt: skip

    # Shadow: the candidate predicted the same requests (same ids), except a few copies the mirror dropped.
    shadow = logged("shadow", "v2", "r").iloc[10:]
    _write_log(tmp_path / "shadow-log", [logged("stable", "v1", "r"), shadow])
    first_day = pd.Timestamp(days[0]).date()
    result = evaluate(spark, f"file://{tmp_path}/shadow-log", f"file://{dataset}", f"file://{tmp_path}/e1",
                      after=first_day, compare=Comparison("v1", "v2", paired=True))  # fmt: skip
    comparison = result.report.comparison
    assert comparison is not None and comparison.paired
    assert result.report.after == first_day and str(result.report.through) == days[-1]
    later = (rows[DATE].astype(str) > days[0]).to_numpy()
    paired = later & (np.arange(len(rows)) >= 10)
    y = rows[CLICKS].to_numpy()[paired]
    ds = poisson_unit_deviance(y, predicted["stable"][paired])
    dc = poisson_unit_deviance(y, predicted["shadow"][paired])
    s = comparison.sums
    assert s.pairs == s.stable_n == s.candidate_n == paired.sum()
    assert s.stable_sum == pytest.approx(ds.sum()) and s.candidate_sum == pytest.approx(dc.sum())
    assert s.stable_sum_sq == pytest.approx((ds**2).sum()) and s.candidate_sum_sq == pytest.approx((dc**2).sum())
    assert s.cross_sum == pytest.approx((ds * dc).sum())
    assert s.candidate_predicted == pytest.approx(predicted["shadow"][paired].sum())
    assert s.candidate_actual == pytest.approx(y.sum()) == pytest.approx(s.stable_actual)

    # Split: two independent samples (different requests); nothing after the last day is left.
    _write_log(tmp_path / "split-log", [logged("stable", "v1", "a"), logged("canary", "v2", "b")])
    result = evaluate(spark, f"file://{tmp_path}/split-log", f"file://{dataset}", f"file://{tmp_path}/e2",
                      compare=Comparison("v1", "v2", paired=False))  # fmt: skip
    assert result.report.comparison is not None
    s = result.report.comparison.sums
    assert s.pairs == 0 and s.stable_n == s.candidate_n == len(rows)
    y = rows[CLICKS].to_numpy()
    assert s.candidate_sum == pytest.approx(poisson_unit_deviance(y, predicted["canary"]).sum())
    last = pd.Timestamp(days[-1]).date()
    result = evaluate(spark, f"file://{tmp_path}/split-log", f"file://{dataset}", f"file://{tmp_path}/e3",
                      after=last, compare=Comparison("v1", "v2", paired=False))  # fmt: skip
    assert result.rows == 0 and result.report.through is None
    assert result.report.comparison is not None and result.report.comparison.sums.stable_n == 0


def test_an_offer_predicted_five_times_a_day_counts_once(spark: SparkSession, dataset: Path, tmp_path: Path) -> None:
    """The evidence is offer-days: repeated predictions of an offer, and a log part written twice, add nothing."""
    from clickcast.analysis.evidence import Comparison

    rows = _last_days(dataset, 2).reset_index(drop=True)
    base = rows[CLICKS].to_numpy() * 0.8 + 0.5

    def logged(role: str, version: str, ids: str, predicted: np.ndarray) -> pd.DataFrame:
        return rows.assign(request_id=[f"{ids}-{i}" for i in range(len(rows))], ts=pd.Timestamp("2026-03-01", tz="UTC"),
                           date=rows[DATE].astype(str), model="offers", model_version=version, role=role,
                           predicted=predicted)  # fmt: skip

    def sums(name: str, frames: list[pd.DataFrame], paired: bool) -> tuple[Any, Any]:
        _write_log(tmp_path / name, frames)
        result = evaluate(spark, f"file://{tmp_path}/{name}", f"file://{dataset}", f"file://{tmp_path}/{name}-e",
                          compare=Comparison("v1", "v2", paired=paired))  # fmt: skip
        assert result.report.comparison is not None
        return result.report.comparison.sums, result.report.version("v1", Role.STABLE)

    # Shadow: each offer-day requested once, or five times (each request mirrored), with one part written twice.
    once = sums("once", [logged("stable", "v1", "r", base), logged("shadow", "v2", "r", base * 1.2)], paired=True)
    repeated = [f for k in range(5) for f in (logged("stable", "v1", f"r{k}", base),
                                              logged("shadow", "v2", f"r{k}", base * 1.2))]  # fmt: skip
    five = sums("five", [*repeated, repeated[0]], paired=True)
    assert five[0].pairs == once[0].pairs == len(rows)
    assert five[0] == pytest.approx(once[0]) and five[1] is not None and once[1] is not None
    assert five[1].metrics.rows == once[1].metrics.rows == len(rows)
    assert five[1].metrics.poisson_deviance == pytest.approx(once[1].metrics.poisson_deviance)
    # Split: independent requests, still one observation per offer-day and version.
    split = sums("split", [logged("stable", "v1", f"a{k}", base) for k in range(5)]
                 + [logged("canary", "v2", f"b{k}", base * 1.1) for k in range(3)], paired=False)  # fmt: skip
    assert split[0].stable_n == split[0].candidate_n == len(rows)


def test_a_look_measures_each_offer_day_apart_so_late_clicks_replace_a_days_sums(
    spark: SparkSession, dataset: Path, tmp_path: Path
) -> None:
    """A canary look's sums per offer-day: late clicks for a day measured again give that day's new sums."""
    from clickcast.analysis.evidence import Comparison
    from clickcast.analysis.sequential import add

    rows = _last_days(dataset, 2).reset_index(drop=True)
    days = sorted(rows[DATE].astype(str).unique())
    base = rows[CLICKS].to_numpy() * 0.8 + 0.5
    frames = [rows.assign(request_id=[f"r-{i}" for i in range(len(rows))], ts=pd.Timestamp("2026-03-01", tz="UTC"),
                          date=rows[DATE].astype(str), model="offers", model_version=version, role=role,
                          predicted=base * factor)
              for role, version, factor in (("stable", "v1", 1.0), ("shadow", "v2", 1.2))]  # fmt: skip
    _write_log(tmp_path / "log", frames)
    last = rows[DATE].astype(str) == days[-1]
    early = rows[~last | (rows.index % 2 == 0)]  # half the last day's clicks have not arrived yet
    pq.write_table(pa.Table.from_pandas(early, preserve_index=False), tmp_path / "early.parquet")

    def look(clicks: str, name: str) -> Any:
        result = evaluate(spark, f"file://{tmp_path}/log", clicks, f"file://{tmp_path}/{name}",
                          compare=Comparison("v1", "v2", paired=True))  # fmt: skip
        assert result.report.comparison is not None
        return result.report.comparison

    first, again = look(f"file://{tmp_path}/early.parquet", "first"), look(f"file://{dataset}", "again")
    per_day = {str(d.day): d.sums.pairs for d in first.daily}
    assert per_day == {days[0]: int((~last).sum()), days[-1]: int((last & (rows.index % 2 == 0)).sum())}
    assert {str(d.day): d.sums.pairs for d in again.daily} == {days[0]: int((~last).sum()), days[-1]: int(last.sum())}
    for comparison in (first, again):  # the days partition the look's sums
        total = comparison.daily[0].sums
        for d in comparison.daily[1:]:
            total = add(total, d.sums)
        assert total.model_dump() == pytest.approx(comparison.sums.model_dump())
    assert again.daily[0].sums.model_dump() == pytest.approx(first.daily[0].sums.model_dump())
