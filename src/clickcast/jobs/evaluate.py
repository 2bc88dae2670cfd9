"""Evaluation: join a prediction log with the real clicks once they arrive, and measure each version.

Outputs under `<out>`:

    joined.parquet/  one row per logged prediction that has real clicks: request_id, ts, date, categoryId,
                     merchantId, category, device, price, model, model_version, role, predicted,
                     actual (real clicks of that offer-day), deviance (Poisson unit deviance)
    metrics.json     {"rows", "unmatched" (predictions whose day has no clicks yet), "badRows",
                      "versions": [{model, modelVersion, role, metrics}],
                      "segments": [{model, modelVersion, role, column, value, metrics}],
                      "daily": [{model, modelVersion, role, date, metrics}]}

The canary analysis compares stable against candidate from `versions` and `joined.parquet`;
quality tracking reads `daily`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import fsspec
from pyspark.sql import SparkSession
from pyspark.sql import functions as F  # noqa: N812

from clickcast.analysis.metrics import metrics_from_sums
from clickcast.api.spec import DataFormat, RevenueModel
from clickcast.features.contract import CLICKS, DATE, DEVICE, OFFER_KEY, PRICE
from clickcast.jobs.data import ContractError, read_dataset, read_raw, spark_path
from clickcast.jobs.spark_metrics import grouped_sums, unit_deviance
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
    report: dict[str, Any]


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
) -> EvaluateResult:
    predictions = read_raw(spark, log_url)
    missing = [
        c for c in (log.REQUEST_ID, DATE, *OFFER_KEY, *VERSION_KEY, log.PREDICTED) if c not in predictions.columns
    ]
    if missing:
        raise ContractError(f"{log_url} is not a prediction log: missing column(s) {', '.join(missing)}")
    predictions = predictions.withColumn(DATE, F.col(DATE).cast("string").try_cast("date"))
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
    matched.select(*[c for c in JOINED_COLUMNS if c in joined.columns]).write.mode("errorifexists").parquet(
        spark_path(f"{out_url.rstrip('/')}/joined.parquet")
    )

    def measured(group: Sequence[str]) -> dict[tuple[str, ...], Any]:
        sums = grouped_sums(matched, [*VERSION_KEY, *group], ACTUAL, log.PREDICTED, price=PRICE, deviance=DEVIANCE)
        return {k: metrics_from_sums(s, revenue).to_wire() for k, s in sorted(sums.items())}

    def version_fields(key: tuple[str, ...]) -> dict[str, str]:
        return {"model": key[0], "modelVersion": key[1], "role": key[2]}

    report: dict[str, Any] = {
        "rows": matched.count(),
        "unmatched": unmatched,
        "badRows": actuals.bad.to_json(),
        "versions": [{**version_fields(k), "metrics": m} for k, m in measured([]).items()],
        "segments": [],
        "daily": [{**version_fields(k), "date": k[3], "metrics": m} for k, m in measured([DATE]).items()],
    }
    for column in segment_columns:
        per_value = measured([column])
        by_version: dict[tuple[str, ...], list[tuple[tuple[str, ...], Any]]] = {}
        for k, m in per_value.items():
            by_version.setdefault(k[:3], []).append((k, m))
        for entries in by_version.values():
            top = sorted(entries, key=lambda e: -int(e[1]["rows"]))[:top_values]
            report["segments"] += [{**version_fields(k), "column": column, "value": k[3], "metrics": m} for k, m in top]
    joined.unpersist()
    with fsspec.open(f"{out_url.rstrip('/')}/metrics.json", "w") as handle:
        json.dump(report, handle, indent=1)
    return EvaluateResult(rows=int(report["rows"]), unmatched=unmatched, output=out_url, report=report)
