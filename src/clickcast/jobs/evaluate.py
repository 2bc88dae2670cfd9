"""Evaluation: join a prediction log with the real clicks once they arrive, and measure each version.

Outputs under `<out>`:

    joined.parquet/  one row per logged prediction that has real clicks: request_id, ts, date, categoryId,
                     merchantId, category, device, price, model, model_version, role, predicted,
                     actual (real clicks of that offer-day), deviance (Poisson unit deviance)
    metrics.json     an EvaluationReport (clickcast.analysis.evidence): rows, unmatched (predictions whose
                     day has no clicks yet), badRows, and metrics per version and role, segment and day;
                     with `compare`, the canary test's sufficient statistics over these offer-days

Metrics and the canary's statistics count offer-days, not predictions: the real clicks are one number per
offer and day, so an offer predicted five times a day is one observation (its prediction the day's mean),
as is a log part written twice by a retried flush. Counting each prediction would weigh popular offers by
their traffic and make the sequential test overconfident.

`after` restricts it to offer-days after that day: the operator's periodic runs each add only the days
the previous runs did not see, so no evidence is counted twice.

The canary analysis compares stable against candidate from `versions` and `joined.parquet`;
quality tracking reads `daily`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import fsspec
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812

from clickcast.analysis.evidence import (
    BadRowReport,
    CanaryComparison,
    Comparison,
    EvaluationReport,
    VersionDailyMetrics,
    VersionMetrics,
    VersionSegmentMetrics,
)
from clickcast.analysis.metrics import metrics_from_sums
from clickcast.analysis.sequential import add
from clickcast.api.roles import Role
from clickcast.api.spec import DataFormat, RevenueModel
from clickcast.api.status import CanaryDaySums, CanarySums, Metrics
from clickcast.features.contract import CLICKS, DATE, DEVICE, OFFER_KEY, PRICE
from clickcast.jobs.data import ContractError, read_dataset, read_raw, spark_path
from clickcast.jobs.spark_metrics import canary_day_sums, grouping_set_sums, unit_deviance
from clickcast.store import prediction_log as log

ACTUAL, DEVIANCE = "actual", "deviance"
VERSION_KEY = (log.MODEL, log.MODEL_VERSION, log.ROLE)
JOINED_COLUMNS = (
    log.REQUEST_ID, log.TIMESTAMP, DATE, *OFFER_KEY, PRICE, *VERSION_KEY, log.PREDICTED, ACTUAL, DEVIANCE,
)  # fmt: skip


@dataclass(frozen=True)
class EvaluateResult:
    rows: int
    unmatched: int
    output: str
    report: EvaluationReport


def evaluate(
    spark: SparkSession,
    log_url: str,
    actuals_url: str,
    out_url: str,
    *,
    fmt: DataFormat | str = DataFormat.PARQUET,
    revenue: RevenueModel | None = None,
    segment_columns: Sequence[str] = (DEVICE,),
    top_values: int = 10,
    after: date | None = None,
    compare: Comparison | None = None,
) -> EvaluateResult:
    predictions = read_raw(spark, log_url)
    missing = [
        c for c in (log.REQUEST_ID, DATE, *OFFER_KEY, *VERSION_KEY, log.PREDICTED) if c not in predictions.columns
    ]
    if missing:
        raise ContractError(f"{log_url} is not a prediction log: missing column(s) {', '.join(missing)}")
    predictions = predictions.withColumn(DATE, F.col(DATE).cast("string").try_cast("date"))
    if after is not None:
        predictions = predictions.where(F.col(DATE) > F.lit(after))
    for c in OFFER_KEY:
        predictions = predictions.withColumn(c, F.col(c).cast("string"))
    actuals = read_dataset(spark, actuals_url, fmt)
    # Real clicks per offer-day: the contract keeps one row per offer-day (duplicates are bad rows, as in training).
    clicks = actuals.rows.select(DATE, *OFFER_KEY, F.col(CLICKS).alias(ACTUAL))
    joined = (
        predictions.join(clicks, [DATE, *OFFER_KEY], "left")
        .withColumn(DEVIANCE, F.when(F.col(ACTUAL).isNotNull(), unit_deviance(F.col(ACTUAL), F.col(log.PREDICTED))))
        .cache()
    )
    unmatched = joined.where(F.col(ACTUAL).isNull()).count()
    matched = joined.where(F.col(ACTUAL).isNotNull())
    # Overwrite: the directory is this run's own, so a retried pod (or a re-run) replaces a partial attempt.
    matched.select(*[c for c in JOINED_COLUMNS if c in joined.columns]).write.mode("overwrite").parquet(
        spark_path(f"{out_url.rstrip('/')}/joined.parquet")
    )

    # Per version: overall, per segment column and per day, in one aggregation over offer-days.
    days = per_offer_day(matched, VERSION_KEY).cache()
    groups = [(), *[(c,) for c in segment_columns], (DATE,)]
    by_set = grouping_set_sums(days, [(*VERSION_KEY, *g) for g in groups], ACTUAL, [log.PREDICTED], price=PRICE,
                               deviance={log.PREDICTED: DEVIANCE}, revenue=revenue)  # fmt: skip

    def measured(group: Sequence[str]) -> dict[tuple[str, ...], Metrics]:
        sums = by_set[(*VERSION_KEY, *group)]
        return {k: metrics_from_sums(s[log.PREDICTED]) for k, s in sorted(sums.items())}

    def key(k: tuple[str, ...]) -> dict[str, Any]:
        return {"model": k[0], "model_version": k[1], "role": k[2]}

    segments: list[VersionSegmentMetrics] = []
    for column in segment_columns:
        by_version: dict[tuple[str, ...], list[tuple[tuple[str, ...], Metrics]]] = {}
        for k, m in measured([column]).items():
            by_version.setdefault(k[:3], []).append((k, m))
        for entries in by_version.values():
            top = sorted(entries, key=lambda e: -e[1].rows)[:top_values]
            segments += [VersionSegmentMetrics(**key(k), column=column, value=k[3], metrics=m) for k, m in top]
    through = matched.agg(F.max(DATE)).first()
    report = EvaluationReport(
        after=after,
        through=through[0] if through else None,
        comparison=_compare(matched, compare) if compare else None,
        rows=matched.count(),
        unmatched=unmatched,
        bad_rows=BadRowReport.model_validate(actuals.bad.to_json()),
        versions=[VersionMetrics(**key(k), metrics=m) for k, m in measured([]).items()],
        segments=segments,
        daily=[VersionDailyMetrics(**key(k), date=k[3], metrics=m) for k, m in measured([DATE]).items()],
    )
    joined.unpersist()
    days.unpersist()
    with fsspec.open(f"{out_url.rstrip('/')}/metrics.json", "w") as handle:
        handle.write(report.model_dump_json(by_alias=True, exclude_none=True, indent=1))
    return EvaluateResult(rows=report.rows, unmatched=unmatched, output=out_url, report=report)


def per_offer_day(rows: DataFrame, by: Sequence[str]) -> DataFrame:
    """One row per `by` and offer-day: the day's mean prediction (and price), its real clicks and their deviance."""
    means = [F.avg(c).alias(c) for c in (log.PREDICTED, PRICE) if c in rows.columns]
    return (
        rows.groupBy(*by, DATE, *OFFER_KEY)
        .agg(*means, F.first(ACTUAL).alias(ACTUAL))
        .withColumn(DEVIANCE, unit_deviance(F.col(ACTUAL), F.col(log.PREDICTED)))
    )


def _compare(matched: DataFrame, compare: Comparison) -> CanaryComparison:
    role, version = F.col(log.ROLE), F.col(log.MODEL_VERSION)
    stable = matched.where((role == Role.STABLE.value) & (version == compare.stable))
    candidate_roles = [Role.SHADOW.value] if compare.paired else [Role.CANARY.value]
    candidate = matched.where(role.isin(candidate_roles) & (version == compare.candidate))
    offer_day = [DATE, *OFFER_KEY]
    if compare.paired:
        # Pair each mirrored request with the stable answer to it (a batch request shares one id; its rows differ
        # by offer), then keep one pair per offer-day: both sides' means over the same requests.
        request = [log.REQUEST_ID, *offer_day]
        pairs = stable.select(*request, log.PREDICTED, ACTUAL).join(
            candidate.select(*request, F.col(log.PREDICTED).alias("candidate")), request, "inner"
        )
        stable_days = per_offer_day(pairs.drop("candidate"), [])
        candidate_days = per_offer_day(pairs.drop(log.PREDICTED).withColumnRenamed("candidate", log.PREDICTED), [])
        daily = canary_day_sums(stable_days, candidate_days, day=DATE, pair_key=offer_day, actual=ACTUAL,
                                predicted=log.PREDICTED, deviance=DEVIANCE)  # fmt: skip
    else:
        daily = canary_day_sums(per_offer_day(stable, []), per_offer_day(candidate, []), day=DATE, pair_key=None,
                                actual=ACTUAL, predicted=log.PREDICTED, deviance=DEVIANCE)  # fmt: skip
    return CanaryComparison(
        stable_version=compare.stable, candidate_version=compare.candidate, paired=compare.paired,
        sums=functools.reduce(add, daily.values(), CanarySums()),
        daily=[CanaryDaySums(day=day, sums=sums) for day, sums in daily.items()],
    )  # fmt: skip
