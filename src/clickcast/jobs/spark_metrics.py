"""Metrics over Spark DataFrames: Spark sums the rows, clickcast.analysis.metrics defines the metrics (the
per-row ones have Spark Column twins here, checked against them in tests/spark)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F  # noqa: N812

from clickcast.analysis.metrics import MIN_PREDICTION, MetricSums, metrics_from_sums
from clickcast.api.spec import RevenueModel
from clickcast.api.status import CanarySums, Metrics, SegmentMetrics


def unit_deviance(actual: Column, predicted: Column) -> Column:
    """Per-row Poisson deviance as a Spark Column: the twin of clickcast.analysis.metrics.poisson_unit_deviance.

    An expression the JVM evaluates, not a Python UDF: a stage that only measures (every evaluation run) starts
    no Python worker, which cost more CPU than the rest of such a run.
    """
    y = actual.cast("double")
    mu = F.greatest(predicted.cast("double"), F.lit(MIN_PREDICTION))
    y_log = F.when(y > 0, y * F.log(y / mu)).otherwise(F.lit(0.0))
    return F.lit(2.0) * (y_log - (y - mu))


def placement_margin_column(actual: Column, predicted: Column, price: Column, revenue: RevenueModel) -> Column:
    """Per-row placement margin: the Spark twin of clickcast.analysis.metrics.placement_margin."""
    # A missing or NaN price earns nothing, as numpy's nan_to_num makes it (Spark orders NaN above every number).
    per_click = F.lit(revenue.commission_rate) * F.coalesce(F.nanvl(price.cast("double"), F.lit(0.0)), F.lit(0.0))
    cost = F.lit(revenue.placement_cost)
    return F.when(predicted.cast("double") * per_click > cost, actual.cast("double") * per_click - cost).otherwise(
        F.lit(0.0)
    )


def _sum_columns(
    actual: str, predicted: str, price: str | None, deviance: Column, revenue: RevenueModel, *, prefix: str = ""
) -> list[Column]:
    y, mu = F.col(actual).cast("double"), F.col(predicted).cast("double")
    p = F.col(price) if price else F.lit(0.0)
    return [
        F.count(F.lit(1)).alias(f"{prefix}rows"),
        F.sum(F.abs(mu - y)).alias(f"{prefix}abs_error"),
        F.sum((mu - y) * (mu - y)).alias(f"{prefix}squared_error"),
        F.sum(deviance).alias(f"{prefix}deviance"),
        F.sum(mu).alias(f"{prefix}predicted"),
        F.sum(y).alias(f"{prefix}actual"),
        F.sum(placement_margin_column(y, mu, p, revenue)).alias(f"{prefix}margin"),
    ]


SetSums = dict[tuple[str, ...], dict[tuple[str, ...], dict[str, MetricSums]]]
"""grouping set -> its group's key -> predicted column -> MetricSums."""


def grouping_set_sums(
    df: DataFrame,
    sets: Sequence[Sequence[str]],
    actual: str,
    predicted: Sequence[str],
    *,
    price: str | None = None,
    deviance: Mapping[str, str] | None = None,
    revenue: RevenueModel | None = None,
) -> SetSums:
    """MetricSums of each `predicted` column, per group of each grouping set, in one Spark aggregation
    (GROUPING SETS: one pass over `df`, where a query per set and column would each scan it and run the
    deviance UDF again). `deviance` maps a predicted column to its precomputed unit-deviance column."""
    unique = list(dict.fromkeys(tuple(s) for s in sets))
    columns = list(dict.fromkeys(c for s in unique for c in s))
    revenue = revenue or RevenueModel()
    deviance = dict(deviance or {})
    for i, p in enumerate(predicted):  # computed once per row, before GROUPING SETS copies the rows per set
        if p not in deviance:
            deviance[p] = f"_clickcast_deviance_{i}"
            df = df.withColumn(deviance[p], unit_deviance(F.col(actual).cast("double"), F.col(p).cast("double")))
    sums = [c for i, p in enumerate(predicted)
            for c in _sum_columns(actual, p, price, F.col(deviance[p]), revenue, prefix=f"s{i}_")]  # fmt: skip
    if len(unique) == 1:
        grouped = df.groupBy(*unique[0])
        gid = {0: unique[0]}
    else:
        grouped = df.groupingSets([list(s) for s in unique], *columns)
        sums.append(F.grouping_id().alias("_clickcast_set"))
        # grouping_id: a bit per grouping column (the first is the highest), set where the row's set lacks it.
        gid = {sum(1 << (len(columns) - 1 - j) for j, c in enumerate(columns) if c not in s): s for s in unique}
    out: SetSums = {s: {} for s in unique}
    for r in grouped.agg(*sums).collect():
        group = gid[int(r["_clickcast_set"]) if len(unique) > 1 else 0]
        key = tuple("" if r[g] is None else str(r[g]) for g in group)
        out[group][key] = {
            p: MetricSums(
                rows=int(r[f"s{i}_rows"]),
                **{
                    k: float(r[f"s{i}_{k}"] or 0.0)
                    for k in ("abs_error", "squared_error", "deviance", "predicted", "actual", "margin")
                },
            )
            for i, p in enumerate(predicted)
        }
    return {tuple(s): out[tuple(s)] for s in sets}


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
    by_set = grouping_set_sums(df, [group_by], actual, [predicted], price=price,
                               deviance={predicted: deviance} if deviance else None, revenue=revenue)  # fmt: skip
    return {key: sums[predicted] for key, sums in by_set[tuple(group_by)].items()}


def dataframe_metrics(
    df: DataFrame, actual: str, predicted: str, price: str | None = None, revenue: RevenueModel | None = None
) -> Metrics:
    sums = grouped_sums(df, [], actual, predicted, price=price, revenue=revenue).get((), MetricSums())
    return metrics_from_sums(sums)


def _top_segments(by_set: SetSums, columns: Sequence[str], top_values: int, predicted: str) -> list[SegmentMetrics]:
    """Metrics of the `top_values` most frequent values of each column (most rows first)."""
    out = []
    for column in columns:
        sums = {key: per[predicted] for key, per in by_set[(column,)].items()}
        top = sorted(sums.items(), key=lambda kv: (-kv[1].rows, kv[0]))[:top_values]
        out += [SegmentMetrics(column=column, value=key[0], metrics=metrics_from_sums(s)) for key, s in top]
    return out


def measured(
    df: DataFrame,
    columns: Sequence[str],
    top_values: int,
    actual: str,
    predicted: Sequence[str],
    *,
    price: str | None = None,
    revenue: RevenueModel | None = None,
) -> dict[str, tuple[Metrics, list[SegmentMetrics]]]:
    """Each predicted column's metrics overall and on the `top_values` most frequent values of each segment
    column (most rows first): one aggregation."""
    by_set = grouping_set_sums(df, [(), *[(c,) for c in columns]], actual, predicted, price=price, revenue=revenue)
    overall = by_set[()].get((), {})
    return {
        p: (metrics_from_sums(overall.get(p, MetricSums())), _top_segments(by_set, columns, top_values, p))
        for p in predicted
    }


def canary_day_sums(
    stable: DataFrame,
    candidate: DataFrame,
    *,
    day: str,
    pair_key: Sequence[str] | None,
    actual: str,
    predicted: str,
    deviance: str,
) -> dict[dt.date, CanarySums]:
    """The canary test's sufficient statistics (clickcast.api.status.CanarySums) per offer-day's `day`, in one
    aggregation per side: a later look may measure a day again (late clicks) and replace its sums.

    `pair_key` set (shadow mode, it includes `day`): only rows both versions predicted count, joined on it;
    otherwise the two versions' rows are independent samples (split mode).
    """

    def side(df: DataFrame, tag: str) -> DataFrame:
        keep = {day, *(pair_key or ())}
        return df.select(*keep, F.col(deviance).alias(f"{tag}_d"), F.col(predicted).alias(f"{tag}_p"),
                         F.col(actual).cast("double").alias(f"{tag}_y"))  # fmt: skip

    def sums(tag: str, y: str) -> list[Column]:
        d = F.col(f"{tag}_d")
        return [F.count(F.lit(1)), F.sum(d), F.sum(d * d), F.sum(f"{tag}_p"), F.sum(f"{y}_y")]

    def values(row: Any, width: int) -> list[float]:
        return [float(v or 0) for v in (row[1 : 1 + width] if row is not None else [0] * width)]

    s, c = side(stable, "s"), side(candidate, "c")
    out: dict[dt.date, CanarySums] = {}
    if pair_key:
        # A pair's real clicks are the same offer-day's: the stable row's serve both sides.
        both = s.join(c.drop("c_y"), list(pair_key), "inner")
        for row in (
            both.groupBy(day).agg(*sums("s", "s"), *sums("c", "s"), F.sum(F.col("s_d") * F.col("c_d"))).collect()
        ):
            v = values(row, 11)
            out[row[0]] = _canary_sums(v[:5], v[5:10], pairs=int(v[0]), cross=v[10])
    else:
        stable_days = {r[0]: values(r, 5) for r in s.groupBy(day).agg(*sums("s", "s")).collect()}
        candidate_days = {r[0]: values(r, 5) for r in c.groupBy(day).agg(*sums("c", "c")).collect()}
        for d in sorted(stable_days.keys() | candidate_days.keys()):
            out[d] = _canary_sums(stable_days.get(d, [0.0] * 5), candidate_days.get(d, [0.0] * 5), pairs=0, cross=0.0)
    return dict(sorted(out.items()))


def _canary_sums(stable: Sequence[float], candidate: Sequence[float], *, pairs: int, cross: float) -> CanarySums:
    """CanarySums from each side's [count, sum, sum of squares, predicted, actual]."""
    return CanarySums(
        stable_n=int(stable[0]), stable_sum=stable[1], stable_sum_sq=stable[2],
        stable_predicted=stable[3], stable_actual=stable[4],
        candidate_n=int(candidate[0]), candidate_sum=candidate[1], candidate_sum_sq=candidate[2],
        candidate_predicted=candidate[3], candidate_actual=candidate[4],
        pairs=pairs, cross_sum=cross,
    )  # fmt: skip
