"""Spark's metric sums, per-row Poisson deviance and placement margin equal the numpy definitions on the same rows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F  # noqa: N812

from clickcast.analysis.metrics import metric_sums, placement_margin, poisson_unit_deviance
from clickcast.api.spec import RevenueModel
from clickcast.jobs.spark_metrics import grouped_sums, grouping_set_sums, placement_margin_column, unit_deviance

pytestmark = pytest.mark.spark

REVENUE = RevenueModel(commission_rate=0.1, placement_cost=2.0)


def _rows() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 2000
    mu = rng.lognormal(0.0, 1.0, n)
    price = rng.lognormal(np.log(20.0), 0.7, n)
    # Edge rows: exactly at the threshold (revenue 2.0 = cost, not bought), missing and NaN price.
    mu[:3], price[:3] = [2.0, 3.0, 3.0], [10.0, np.nan, np.nan]
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "group": rng.choice(["a", "b", "c"], n),
            "actual": rng.poisson(mu).astype(np.int64),
            "predicted": mu,
            "price": price,
        }
    )


def test_spark_margin_and_sums_match_numpy(spark: SparkSession) -> None:
    rows = _rows()
    # Row 1's price is null in Spark, row 2's NaN; numpy sees both as NaN.
    records = [(*r[:4], None if r[0] == 1 else r[4]) for r in rows.itertuples(index=False)]
    df = spark.createDataFrame(records, "id long, group string, actual long, predicted double, price double")
    assert df.where(F.col("price").isNull()).count() == 1 and df.where(F.isnan("price")).count() == 1
    margin = placement_margin_column(F.col("actual"), F.col("predicted"), F.col("price"), REVENUE)
    got = [r["margin"] for r in df.orderBy("id").select(margin.alias("margin")).collect()]
    expected = placement_margin(rows["actual"], rows["predicted"], rows["price"], REVENUE)
    assert got == pytest.approx(expected.tolist())
    assert expected[0] == 0.0 and (expected != 0.0).any()

    by_group = grouped_sums(df, ["group"], "actual", "predicted", price="price", revenue=REVENUE)
    for (group,), sums in by_group.items():
        part = rows[rows["group"] == group]
        want = metric_sums(part["actual"], part["predicted"], part["price"], REVENUE)
        assert sums.rows == want.rows
        assert dataclasses.astuple(sums) == pytest.approx(dataclasses.astuple(want))


def test_spark_unit_deviance_is_the_numpy_definition_row_for_row(spark: SparkSession) -> None:
    rows = _rows()
    # Edge rows: no clicks (the y = 0 limit), a prediction of 0 and a negative one (floored), a tiny one.
    rows.loc[:4, ["actual", "predicted"]] = [[0, 0.7], [0, 0.0], [3, 0.0], [2, -1.0], [5, 1e-12]]
    df = spark.createDataFrame(rows[["id", "actual", "predicted"]])
    got = [r[0] for r in df.orderBy("id").select(unit_deviance(F.col("actual"), F.col("predicted"))).collect()]
    expected = poisson_unit_deviance(rows["actual"], rows["predicted"])
    assert got == pytest.approx(expected.tolist(), rel=1e-12)
    assert expected[0] == pytest.approx(1.4) and expected[2] > 100  # the limit, and a floored zero prediction


def test_grouping_sets_in_one_pass_equal_one_query_per_set_and_column(spark: SparkSession) -> None:
    rows = _rows().assign(other=lambda d: d["predicted"] * 1.3, tier=lambda d: np.where(d["id"] % 4 == 0, None, "t"))
    df = spark.createDataFrame(rows)
    sets = [(), ("group",), ("tier",), ("group", "tier")]
    together = grouping_set_sums(df, sets, "actual", ["predicted", "other"], price="price", revenue=REVENUE)
    assert list(together) == sets
    for s in sets:
        for column in ("predicted", "other"):
            alone = grouped_sums(df, list(s), "actual", column, price="price", revenue=REVENUE)
            got = {k: dataclasses.astuple(v[column]) for k, v in together[s].items()}
            assert got == {k: pytest.approx(dataclasses.astuple(v)) for k, v in alone.items()}, (s, column)
    assert together[("tier",)].keys() == {("",), ("t",)}  # a null value is a group of its own, named ""
    assert sum(v["other"].rows for v in together[("group",)].values()) == len(rows)
    whole = metric_sums(rows["actual"], rows["other"], rows["price"], REVENUE)
    assert dataclasses.astuple(together[()][()]["other"]) == pytest.approx(dataclasses.astuple(whole))
