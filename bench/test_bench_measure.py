"""Benchmark (marker `bench`): measuring a trained version on its test window, one Spark aggregation per
grouping and column (as training did) against one GROUPING SETS pass (spark_metrics.measured), same rows,
same run. `BENCH_MEASURE_ROWS` test-window rows (default 100,000; a 36k-row training tests on ~6,000).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession

from clickcast.analysis.metrics import metrics_from_sums
from clickcast.api.spec import RevenueModel
from clickcast.api.status import Metrics, SegmentMetrics
from clickcast.jobs.session import spark_session
from clickcast.jobs.spark_metrics import dataframe_metrics, grouped_sums, measured

pytestmark = pytest.mark.bench

ROWS = int(os.environ.get("BENCH_MEASURE_ROWS", "100000"))
SEGMENTS = ["device", "category"]  # training's default segment columns
REPEATS = 3


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = spark_session("local[2]", "clickcast-bench-measure", {"spark.driver.host": "127.0.0.1"})
    yield session
    session.stop()


def _scored(spark: SparkSession) -> DataFrame:
    rng = np.random.default_rng(3)
    mu = rng.lognormal(0.0, 1.0, ROWS)
    rows = pd.DataFrame({
        "clicks": rng.poisson(mu), "predicted": mu * rng.uniform(0.8, 1.2, ROWS),
        "baseline": mu * rng.uniform(0.6, 1.4, ROWS), "price": rng.lognormal(3.0, 0.7, ROWS),
        "device": rng.choice(["mobile", "desktop", "tablet"], ROWS), "category": rng.choice(list("abcdefghij"), ROWS),
    })  # fmt: skip
    df = spark.createDataFrame(rows).cache()
    df.count()
    return df


def _best(work: Callable[[], object]) -> float:
    work()  # warm: Python workers, code generation
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def test_one_grouping_sets_pass_against_a_query_per_grouping(spark: SparkSession) -> None:
    df, revenue = _scored(spark), RevenueModel()

    def per_query() -> list[tuple[Metrics, list[SegmentMetrics]]]:
        # What training did before: a plain groupBy per grouping and per predicted column (6 Spark jobs).
        out = []
        for p in ("predicted", "baseline"):
            segments = []
            for column in SEGMENTS:
                sums = grouped_sums(df, [column], "clicks", p, price="price", revenue=revenue)
                top = sorted(sums.items(), key=lambda kv: (-kv[1].rows, kv[0]))[:10]
                segments += [SegmentMetrics(column=column, value=k[0], metrics=metrics_from_sums(v)) for k, v in top]
            out.append((dataframe_metrics(df, "clicks", p, "price", revenue), segments))
        return out

    def one_pass() -> dict[str, tuple[Metrics, list[SegmentMetrics]]]:
        return measured(df, SEGMENTS, 10, "clicks", ["predicted", "baseline"], price="price", revenue=revenue)

    # Same figures either way (the test suite checks this exactly; here a guard that both did the work).
    got = one_pass()
    for (metrics, segments), name in zip(per_query(), ("predicted", "baseline"), strict=True):
        assert got[name][0].rows == metrics.rows == ROWS
        assert [s.value for s in got[name][1]] == [s.value for s in segments]
    queries, single = _best(per_query), _best(one_pass)
    print(f"\nmeasuring {ROWS:,} rows, model + baseline, overall + {len(SEGMENTS)} segment columns, best of {REPEATS}:")
    print(f"  one query per grouping and column (6 Spark jobs): {queries:.2f} s")
    print(f"  one GROUPING SETS pass (1 Spark job):              {single:.2f} s")
    print(f"  ratio: {queries / single:.2f}x faster")
