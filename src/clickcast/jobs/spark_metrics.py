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
from clickcast.api.status import CanarySums, Metrics, SegmentMetrics


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


def canary_sums(
    stable: DataFrame,
    candidate: DataFrame,
    *,
    pair_key: Sequence[str] | None,
    actual: str,
    predicted: str,
    deviance: str,
) -> CanarySums:
    """The canary test's sufficient statistics (clickcast.api.status.CanarySums) in one aggregation per side.

    `pair_key` set (shadow mode): only rows both versions predicted count, joined on it; otherwise the two
    versions' rows are independent samples (split mode).
    """

    def side(df: DataFrame, tag: str) -> DataFrame:
        keep: list[Column | str] = [
            *(pair_key or ()),
            F.col(deviance).alias(f"{tag}_d"),
            F.col(predicted).alias(f"{tag}_p"),
        ]
        return df.select(*keep, F.col(actual).cast("double").alias(f"{tag}_y"))

    def sums(tag: str, y: str) -> list[Column]:
        d = F.col(f"{tag}_d")
        return [F.count(F.lit(1)), F.sum(d), F.sum(d * d), F.sum(f"{tag}_p"), F.sum(f"{y}_y")]

    s, c = side(stable, "s"), side(candidate, "c")
    if pair_key:
        # A pair's real clicks are the same offer-day's: the stable row's serve both sides.
        both = s.join(c.drop("c_y"), list(pair_key), "inner")
        row = both.agg(*sums("s", "s"), *sums("c", "s"), F.sum(F.col("s_d") * F.col("c_d"))).first()
        values = [v or 0 for v in (row or [0] * 11)]
        n, cross = int(values[0]), float(values[10])
    else:
        rs, rc = s.agg(*sums("s", "s")).first(), c.agg(*sums("c", "c")).first()
        values = [v or 0 for v in (*(rs or [0] * 5), *(rc or [0] * 5))]
        n, cross = 0, 0.0
    return CanarySums(
        stable_n=int(values[0]), stable_sum=float(values[1]), stable_sum_sq=float(values[2]),
        stable_predicted=float(values[3]), stable_actual=float(values[4]),
        candidate_n=int(values[5]), candidate_sum=float(values[6]), candidate_sum_sq=float(values[7]),
        candidate_predicted=float(values[8]), candidate_actual=float(values[9]),
        pairs=n, cross_sum=cross,
    )  # fmt: skip
