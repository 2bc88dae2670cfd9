"""Reading click data under the contract, with every rejected row counted by reason.

Rows that break the contract are not silently dropped: each gets the first
reason it fails (the rules and their order are in clickcast.features.contract:
invalid or future date, empty or over-long id, unknown device, invalid price or
clicks, duplicate offer-day), the counts and a few examples go into the job's
output, and only the valid rows are used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention
from pyspark.sql import types as T  # noqa: N812

from clickcast.api.spec import DataFormat
from clickcast.features import contract
from clickcast.features.contract import CATEGORY, CATEGORY_ID, CLICKS, DATE, DEVICE, DEVICES, MERCHANT_ID, PRICE
from clickcast.jobs import s3a

KEY_COLUMNS = (DATE, CATEGORY_ID, MERCHANT_ID, CATEGORY, DEVICE)
ISO_DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"  # what the prediction API accepts: no other spelling of a day
REASON = "_reject_reason"
EXAMPLES = 5


class ContractError(ValueError):
    """The dataset cannot be read under the contract (missing columns, wrong types, nothing to read)."""


@dataclass
class BadRows:
    """Rows rejected by the contract: total, count per reason and a few examples."""

    total: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "reasons": self.reasons, "examples": self.examples}


@dataclass(frozen=True)
class Dataset:
    """Valid contract rows (typed: date date, ids/device string, price double, clicks double if present)."""

    rows: DataFrame
    read_rows: int
    bad: BadRows


def spark_path(url: str) -> str:
    """Spark (Hadoop) reads file:///x as /x and s3://b/k as s3a://b/k; other schemes pass through."""
    return s3a.spark_url(url)


def read_raw(spark: SparkSession, url: str, fmt: DataFormat | str = DataFormat.PARQUET) -> DataFrame:
    path = spark_path(url)
    try:
        if DataFormat(fmt) is DataFormat.CSV:
            return spark.read.option("header", "true").option("inferSchema", "false").csv(path)
        return spark.read.parquet(path)
    except Exception as exc:  # AnalysisException and friends: say what and where, not a JVM stack
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ContractError(f"cannot read {fmt} data at {url}: {first}") from exc


def _conform(df: DataFrame, date_column: str, target_column: str | None) -> DataFrame:
    """Rename the configured columns to the contract's and cast every contract column to its type."""
    required = [date_column, CATEGORY_ID, MERCHANT_ID, CATEGORY, DEVICE, PRICE]
    if target_column is not None:
        required.append(target_column)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ContractError(
            f"missing column(s) {', '.join(missing)}; the contract needs {', '.join(required)} "
            f"(found {', '.join(df.columns)})"
        )
    date_type = df.schema[date_column].dataType
    if isinstance(date_type, T.DateType):
        date_col = F.col(date_column)
    elif isinstance(date_type, (T.TimestampType, T.TimestampNTZType)):
        date_col = F.to_date(F.col(date_column))
    elif isinstance(date_type, T.StringType):
        date_col = F.when(F.col(date_column).rlike(ISO_DAY), F.col(date_column).try_cast("date"))
    else:
        raise ContractError(
            f"column {date_column} must be a date or a YYYY-MM-DD string, not {date_type.simpleString()}"
        )
    for name in (PRICE, *([target_column] if target_column else [])):
        kind = df.schema[name].dataType
        if not isinstance(kind, (T.NumericType, T.StringType)):
            raise ContractError(f"column {name} must be numeric, not {kind.simpleString()}")
    out = [date_col.alias(DATE)] + [F.col(c).cast("string").alias(c) for c in (CATEGORY_ID, MERCHANT_ID, CATEGORY)]
    out += [F.col(DEVICE).cast("string").alias(DEVICE), F.col(PRICE).try_cast("double").alias(PRICE)]
    if target_column is not None:
        out.append(F.col(target_column).try_cast("double").alias(CLICKS))
    replaced = {*required, DATE} | ({CLICKS} if target_column is not None else set())
    extras = [c for c in df.columns if c not in replaced]
    return df.select(*out, *extras)


def _invalid_number(column: str) -> Column:
    value = F.col(column)
    return value.isNull() | F.isnan(value) | (F.abs(value) == F.lit(float("inf"))) | (value < 0)


def _reason(has_target: bool, run_date: dt.date | None) -> Column:
    """The first contract rule a row breaks (clickcast.features.contract, in its order), or null."""
    rules: list[tuple[Column, str]] = [(F.col(DATE).isNull(), contract.INVALID_DATE)]
    if has_target and run_date is not None:
        rules.append((F.col(DATE) > F.lit(run_date), contract.FUTURE_DATE))
    for c in contract.ID_COLUMNS:
        rules.append((F.col(c).isNull() | (F.length(c) == 0), contract.empty_id(c)))
        rules.append((F.length(c) > contract.MAX_ID_LENGTH, contract.long_id(c)))
    rules.append((F.col(DEVICE).isNull() | ~F.col(DEVICE).isin(*DEVICES), contract.INVALID_DEVICE))
    rules.append((_invalid_number(PRICE), contract.INVALID_PRICE))
    if has_target:
        rules.append((_invalid_number(CLICKS), contract.INVALID_CLICKS))
    expr = F.when(rules[0][0], F.lit(rules[0][1]))
    for cond, label in rules[1:]:
        expr = expr.when(cond, F.lit(label))
    return expr


def _duplicates(checked: DataFrame) -> DataFrame:
    """Mark every otherwise valid row whose offer-day appears more than once among the valid rows."""
    valid_copies = F.sum(F.when(F.col(REASON).isNull(), 1).otherwise(0)).over(Window.partitionBy(*KEY_COLUMNS))
    return checked.withColumn(
        REASON,
        F.when(F.col(REASON).isNull() & (valid_copies > 1), F.lit(contract.DUPLICATE_OFFER_DAY)).otherwise(
            F.col(REASON)
        ),
    )


def check_rows(
    spark: SparkSession,
    url: str,
    fmt: DataFormat | str = DataFormat.PARQUET,
    date_column: str = DATE,
    target_column: str | None = CLICKS,
    *,
    run_date: dt.date | None = None,
) -> DataFrame:
    """Every row, conformed to the contract's columns and types, with REASON: the rule it breaks, or null.

    Labelled rows (with a target) must also be dated on or before `run_date`
    (when given) and be the only row of their offer-day.
    """
    has_target = target_column is not None
    checked = _conform(read_raw(spark, url, fmt), date_column, target_column).withColumn(
        REASON, _reason(has_target, run_date)
    )
    return _duplicates(checked) if has_target else checked


def read_dataset(
    spark: SparkSession,
    url: str,
    fmt: DataFormat | str = DataFormat.PARQUET,
    date_column: str = DATE,
    target_column: str | None = CLICKS,
    *,
    run_date: dt.date | None = None,
) -> Dataset:
    """Read, validate and type contract rows; count and describe the rows that break the contract."""
    checked = check_rows(spark, url, fmt, date_column, target_column, run_date=run_date)
    counts = checked.groupBy(REASON).count().collect()
    read_rows = sum(int(r["count"]) for r in counts)
    if read_rows == 0:
        raise ContractError(f"no rows in {url}")
    reasons = {str(r[REASON]): int(r["count"]) for r in counts if r[REASON] is not None}
    bad = BadRows(total=sum(reasons.values()), reasons=dict(sorted(reasons.items())))
    if bad.total:
        sample = checked.where(F.col(REASON).isNotNull()).limit(EXAMPLES).collect()
        bad.examples = [{k: _jsonable(v) for k, v in r.asDict().items()} for r in sample]
    valid = checked.where(F.col(REASON).isNull()).drop(REASON)
    return Dataset(rows=valid, read_rows=read_rows, bad=bad)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def rows_between(df: DataFrame, ranges: Sequence[tuple[dt.date, dt.date]]) -> list[int]:
    """Rows dated within each inclusive (first, last) range, in one pass."""
    day = F.col(DATE)
    counts = [F.sum(F.when((day >= F.lit(a)) & (day <= F.lit(b)), 1).otherwise(0)) for a, b in ranges]
    row = df.agg(*[c.alias(f"r{i}") for i, c in enumerate(counts)]).first()
    assert row is not None
    return [int(row[f"r{i}"] or 0) for i in range(len(ranges))]


@dataclass(frozen=True)
class Fingerprint:
    rows: int
    first_day: dt.date
    last_day: dt.date
    content_hash: str


def fingerprint(df: DataFrame, columns: Sequence[str]) -> Fingerprint:
    """Row count, date range and an order-independent content hash of the rows (one pass)."""
    row_hash = F.xxhash64(*[F.col(c) for c in columns])
    agg = df.agg(
        F.count(F.lit(1)).alias("n"),
        F.min(DATE).alias("first"),
        F.max(DATE).alias("last"),
        F.sum(F.pmod(row_hash, F.lit(2_147_483_647))).alias("s"),  # bounded terms: the sum cannot overflow
        F.bit_xor(row_hash).alias("x"),
    ).first()
    assert agg is not None
    if not agg["n"]:
        raise ContractError("no valid rows left after the contract checks")
    digest = hashlib.sha256(f"{agg['n']}:{agg['first']}:{agg['last']}:{agg['s']}:{agg['x']}".encode()).hexdigest()
    return Fingerprint(int(agg["n"]), agg["first"], agg["last"], digest)
