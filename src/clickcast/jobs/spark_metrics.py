"""Metrics over Spark DataFrames: Spark sums the rows, clickcast.analysis.metrics defines the metrics."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812
from pyspark.sql import types as T  # noqa: N812
from pyspark.sql.pandas.functions import pandas_udf

from clickcast.analysis.metrics import MetricSums, metrics_from_sums, poisson_unit_deviance
from clickcast.api.spec import RevenueModel
from clickcast.api.status import Metrics, SegmentMetrics


@pandas_udf(T.DoubleType())  # type: ignore[call-overload,untyped-decorator]
def unit_deviance(actual: pd.Series, predicted: pd.Series) -> pd.Series:
    """Per-row Poisson deviance, by the one definition in clickcast.analysis.metrics."""
    return pd.Series(poisson_unit_deviance(actual.to_numpy(), predicted.to_numpy()))


def placement_margin_column(actual: Column, predicted: Column, price: Column, revenue: RevenueModel) -> Column:
    """Per-row placement margin: the Spark twin of clickcast.analysis.metrics.placement_margin."""
    # A missing or NaN price earns nothing, as numpy's nan_to_num makes it (Spark orders NaN above every number).
    per_click = F.lit(revenue.commission_rate) * F.coalesce(F.nanvl(price.cast("double"), F.lit(0.0)), F.lit(0.0))
    cost = F.lit(revenue.placement_cost)
    return F.when(predicted.cast("double") * per_click > cost, actual.cast("double") * per_click - cost).otherwise(
        F.lit(0.0)
    )


def _sum_columns(
    actual: str, predicted: str, price: str | None, deviance: Column, revenue: RevenueModel
) -> list[Column]:
    y, mu = F.col(actual).cast("double"), F.col(predicted).cast("double")
    p = F.col(price) if price else F.lit(0.0)
    return [
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.abs(mu - y)).alias("abs_error"),
        F.sum((mu - y) * (mu - y)).alias("squared_error"),
        F.sum(deviance).alias("deviance"),
        F.sum(mu).alias("predicted"),
        F.sum(y).alias("actual"),
        F.sum(placement_margin_column(y, mu, p, revenue)).alias("margin"),
    ]


def grouped_sums(
    df: DataFrame,
    group_by: Sequence[str],
    actual: str,
    predicted: str,
    *,
    price: str | None = None,
    deviance: str | None = None,
    revenue: RevenueModel | None = None,
) -> dict[tuple[str, ...], MetricSums]:
    """MetricSums per group (one Spark aggregation; `deviance` names a precomputed unit-deviance column,
    `revenue` prices the margin, the default RevenueModel when None)."""
    dev = F.col(deviance) if deviance else unit_deviance(F.col(actual).cast("double"), F.col(predicted).cast("double"))
    rows = df.groupBy(*group_by).agg(*_sum_columns(actual, predicted, price, dev, revenue or RevenueModel())).collect()
    out = {}
    for r in rows:
        key = tuple("" if r[g] is None else str(r[g]) for g in group_by)
        out[key] = MetricSums(
            rows=int(r["rows"]),
            **{
                k: float(r[k] or 0.0)
                for k in ("abs_error", "squared_error", "deviance", "predicted", "actual", "margin")
            },
        )
    return out


def dataframe_metrics(
    df: DataFrame, actual: str, predicted: str, price: str | None = None, revenue: RevenueModel | None = None
) -> Metrics:
    sums = grouped_sums(df, [], actual, predicted, price=price, revenue=revenue).get((), MetricSums())
    return metrics_from_sums(sums)


def segment_metrics(
    df: DataFrame,
    columns: Sequence[str],
    top_values: int,
    actual: str,
    predicted: str,
    *,
    price: str | None = None,
    revenue: RevenueModel | None = None,
) -> list[SegmentMetrics]:
    """Metrics of the `top_values` most frequent values of each column (most rows first)."""
    out = []
    for column in columns:
        sums = grouped_sums(df, [column], actual, predicted, price=price, revenue=revenue)
        top = sorted(sums.items(), key=lambda kv: (-kv[1].rows, kv[0]))[:top_values]
        out += [SegmentMetrics(column=column, value=key[0], metrics=metrics_from_sums(s)) for key, s in top]
    return out
