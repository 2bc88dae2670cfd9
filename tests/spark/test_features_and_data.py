"""The Spark feature transform equals the serving one; bad rows are counted with reasons."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F  # noqa: N812

from clickcast.api.spec import DateFeature, Features
from clickcast.features import contract
from clickcast.features.spec import UNKNOWN_CODE, encode_columns
from clickcast.jobs.data import ContractError, read_dataset
from clickcast.jobs.featurize import apply_feature_spec, feature_columns, fit_feature_spec

pytestmark = pytest.mark.spark


def test_spark_transform_matches_the_serving_transform(spark: SparkSession, dataset: Path) -> None:
    rows = read_dataset(spark, f"file://{dataset}").rows
    features = Features(date_features=list(DateFeature), max_categories=40, min_category_count=3)
    spec = fit_feature_spec(rows, features)
    assert [len(v.values) for v in spec.categorical][:2] == [40, 40]  # capped
    unseen = spark.createDataFrame(
        [(dt.date(2027, 2, 28), "c-new", "m-new", "unheard", "tablet", 12.5, 0.0)], rows.schema
    )
    sample = rows.orderBy(F.rand(seed=1)).limit(3000).union(unseen).withColumn("_id", F.monotonically_increasing_id())
    encoded = apply_feature_spec(sample, spec).orderBy("_id").toPandas()
    reference = encode_columns(spec, {c: encoded[c].to_numpy() for c in encoded.columns})
    spark_matrix = encoded[feature_columns(spec)].to_numpy(dtype=np.float32)
    np.testing.assert_array_equal(spark_matrix, reference)
    assert spark_matrix[-1, :4].tolist() == [UNKNOWN_CODE] * 3 + [3.0]  # unseen ids; tablet is the 3rd device
    assert (spark_matrix[:, 0] == UNKNOWN_CODE).sum() > 1  # rare categories share the unknown bucket


def test_vocabulary_is_by_frequency_with_deterministic_ties(spark: SparkSession) -> None:
    df = spark.createDataFrame(pd.DataFrame({"merchantId": ["b", "a", "c", "c", "a", "b", "c", "d"]}))
    spec = fit_feature_spec(
        df, Features(categorical=["merchantId"], numeric=[], date_features=[], min_category_count=2)
    )
    assert spec.categorical[0].values == ["c", "a", "b"]


def test_bad_rows_are_counted_with_reasons(spark: SparkSession, tmp_path: Path) -> None:
    good = ("2026-01-02", "c1", "m1", "toys", "mobile", 10.0, 3)
    frame = pd.DataFrame(
        [
            good,
            ("2026-01-02", "c1", "m9", "toys", "tablet", 10.0, 0),
            ("2026-01-02", "c1", "m1", "toys", "desktop", 10.0, -1),
            ("2026-01-02", "c1", "m1", "toys", "smartwatch", 10.0, 1),
            ("2026-01-02", "c1", None, "toys", "desktop", 10.0, 1),
            ("not a date", "c1", "m2", "toys", "desktop", 10.0, 1),
            ("2026-01-02", "c1", "m3", "toys", "DESKTOP ", 10.0, 1),
        ],
        columns=["date", "categoryId", "merchantId", "category", "device", "price", "clicks"],
    )
    frame.to_csv(tmp_path / "rows.csv", index=False)
    data = read_dataset(spark, f"file://{tmp_path}/rows.csv", "csv")
    assert data.read_rows == 7
    assert data.rows.count() == 2  # device values are not folded: "DESKTOP " is refused, as serving does
    assert data.bad.total == 5
    assert data.bad.reasons == {
        contract.INVALID_CLICKS: 1, contract.INVALID_DATE: 1, contract.empty_id("merchantId"): 1,
        contract.INVALID_DEVICE: 2,
    }  # fmt: skip
    assert {e["_reject_reason"] for e in data.bad.examples} == set(data.bad.reasons)


def test_missing_columns_are_named(spark: SparkSession, tmp_path: Path) -> None:
    pd.DataFrame({"date": ["2026-01-01"], "clicks": [1]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(ContractError, match=r"missing column\(s\) categoryId, merchantId, category, device, price"):
        read_dataset(spark, f"file://{tmp_path}/x.parquet")
    with pytest.raises(ContractError, match="cannot read parquet data"):
        read_dataset(spark, f"file://{tmp_path}/nothing-here")
