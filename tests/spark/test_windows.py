"""The training windows: future-dated rows cannot take over the test window, and thin windows stop training."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from clickcast.api.spec import ClickModelSpec
from clickcast.features import contract
from clickcast.jobs.train import train
from clickcast.jobs.window import WindowError

pytestmark = pytest.mark.spark
FIRST = dt.date(2026, 1, 1)
NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def _days(path: Path, days: int, per_day: int, extra: tuple[str, ...] = ()) -> str:
    dates = [(FIRST + dt.timedelta(days=d)).isoformat() for d in range(days) for _ in range(per_day)] + list(extra)
    n = len(dates)
    pq.write_table(
        pa.table({
            "date": dates,
            "categoryId": [f"c{i % 7}" for i in range(n)],
            "merchantId": [f"m{i % per_day}" for i in range(n)],  # one row per offer and day
            "category": ["toys"] * n,
            "device": ["mobile", "desktop", "tablet"] * (n // 3) + ["mobile"] * (n % 3),
            "price": [5.0 + i % 11 for i in range(n)],
            "clicks": [float(i % 4) for i in range(n)],
        }),
        path,
    )  # fmt: skip
    return f"file://{path}"


def _spec(data: str, store: Path, test_days: int) -> ClickModelSpec:
    return ClickModelSpec.model_validate({
        "data": {"url": data, "window": {"trainDays": 60, "testDays": test_days}},
        "store": {"url": f"file://{store}"},
        "features": {"minCategoryCount": 1},
        "algorithm": {"xgboost": {"numRounds": 3}},
    })  # fmt: skip


def test_a_future_dated_row_is_a_bad_row_not_the_test_window(spark: SparkSession, tmp_path: Path) -> None:
    data = _days(tmp_path / "d.parquet", days=40, per_day=60, extra=("2099-01-01",))
    result = train(spark, _spec(data, tmp_path / "store", test_days=2), "offers", now=NOW)
    assert result.bad_rows.reasons == {contract.FUTURE_DATE: 1}
    window = result.status.data
    assert window is not None
    assert (window.test_start, window.test_end) == (FIRST + dt.timedelta(days=38), FIRST + dt.timedelta(days=39))


def test_too_few_rows_in_a_window_stops_training_with_the_numbers(spark: SparkSession, tmp_path: Path) -> None:
    data = _days(tmp_path / "d.parquet", days=40, per_day=40)
    with pytest.raises(WindowError, match=r"test window 2026-02-09\.\.2026-02-09 has 40 valid rows; at least 100"):
        train(spark, _spec(data, tmp_path / "store", test_days=1), "offers", now=NOW)
