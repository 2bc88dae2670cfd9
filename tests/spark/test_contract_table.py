"""Training's side of the shared contract table (tests/contract_cases.py), plus the duplicate offer-day rule."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from clickcast.analysis.metrics import compute_metrics
from clickcast.features import contract
from clickcast.features.contract import CATEGORY, CATEGORY_ID, CLICKS, DATE, DEVICE, MERCHANT_ID, PRICE
from clickcast.jobs.data import REASON, check_rows, read_dataset
from clickcast.jobs.spark_metrics import dataframe_metrics
from tests.contract_cases import CASES, RUN_DATE, VALID

pytestmark = pytest.mark.spark
CASE = "case"
STRINGS = (DATE, CATEGORY_ID, MERCHANT_ID, CATEGORY, DEVICE, CASE)


def _write(rows: list[dict[str, object]], path: Path) -> str:
    columns = {c: pa.array([r[c] for r in rows], pa.string()) for c in STRINGS}
    columns |= {c: pa.array([r[c] for r in rows], pa.float64()) for c in (PRICE, CLICKS)}
    pq.write_table(pa.table(columns), path)
    return f"file://{path}"


def test_every_case_of_the_table_gets_its_reason(spark: SparkSession, tmp_path: Path) -> None:
    rows = [{**c.row(i), CLICKS: c.clicks, CASE: c.name} for i, c in enumerate(CASES)]
    url = _write(rows, tmp_path / "cases.parquet")
    got = {r[CASE]: r[REASON] for r in check_rows(spark, url, run_date=RUN_DATE).select(CASE, REASON).collect()}
    assert got == {c.name: c.reason for c in CASES}


def test_duplicate_offer_days_are_rejected_everywhere_they_occur(spark: SparkSession, tmp_path: Path) -> None:
    twin = {**VALID, CLICKS: 1.0}
    rows = [
        {**twin, CASE: "first copy"},
        {**twin, PRICE: 11.0, CASE: "second copy, another price"},
        {**twin, DATE: "2026-02-21", CASE: "same offer, next day"},
        {**twin, MERCHANT_ID: "m2", CASE: "valid twin of an invalid row"},
        {**twin, MERCHANT_ID: "m2", CLICKS: -1.0, CASE: "invalid twin"},
    ]
    data = read_dataset(spark, _write(rows, tmp_path / "dups.parquet"), run_date=RUN_DATE)
    assert data.bad.reasons == {contract.DUPLICATE_OFFER_DAY: 2, contract.INVALID_CLICKS: 1}
    assert sorted(r[CASE] for r in data.rows.select(CASE).collect()) == [
        "same offer, next day",
        "valid twin of an invalid row",
    ]


def test_without_a_run_date_future_rows_are_kept_and_unlabelled_rows_skip_label_rules(
    spark: SparkSession, tmp_path: Path
) -> None:
    rows = [
        {**VALID, CLICKS: None, DATE: "2099-01-01", CASE: "a"},
        {**VALID, CLICKS: None, DATE: "2099-01-01", CASE: "b"},
    ]
    url = _write(rows, tmp_path / "unlabelled.parquet")
    scoring = read_dataset(spark, url, target_column=None)  # batch scoring: duplicates and dates are fine
    assert scoring.bad.total == 0 and scoring.rows.count() == 2


def test_spark_and_numpy_metrics_agree_on_the_rows_the_contract_accepts(spark: SparkSession, tmp_path: Path) -> None:
    # Every accepted row of the table, with predictions at the edges: zero (floored for the deviance), exact, large.
    rows = [{**c.row(i), CLICKS: c.clicks, CASE: c.name} for i, c in enumerate(CASES)]
    valid = read_dataset(spark, _write(rows, tmp_path / "cases.parquet"), run_date=RUN_DATE).rows.toPandas()
    assert len(valid) == sum(c.reason is None for c in CASES)
    valid["predicted"] = [0.0, 2.0, 1e6, 0.5, 3.0, 0.0][: len(valid)]
    spark_metrics = dataframe_metrics(spark.createDataFrame(valid), CLICKS, "predicted", PRICE)
    numpy_metrics = compute_metrics(valid[CLICKS], valid["predicted"], valid[PRICE])
    for name in ("rows", "mae", "rmse", "poisson_deviance", "calibration", "margin"):
        assert getattr(spark_metrics, name) == pytest.approx(getattr(numpy_metrics, name), rel=1e-12), name
