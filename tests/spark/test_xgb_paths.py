"""On a local master the job fits one xgboost in the driver; it must learn what xgboost.spark learns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import SparkSession

from clickcast.api.spec import Algorithm, Features
from clickcast.features.contract import INPUT_COLUMNS
from clickcast.features.spec import encode_columns
from clickcast.jobs.data import read_dataset
from clickcast.jobs.featurize import apply_feature_spec, fit_feature_spec
from clickcast.jobs.xgb import train_xgboost

pytestmark = pytest.mark.spark
ALGORITHM = Algorithm.model_validate({"xgboost": {"numRounds": 15, "subsample": 1.0, "colsampleBytree": 1.0}})


def test_the_local_fit_and_xgboost_spark_learn_the_same_model(spark: SparkSession, dataset: Path) -> None:
    rows = read_dataset(spark, f"file://{dataset}").rows
    spec = fit_feature_spec(rows, Features(min_category_count=3))
    encoded = apply_feature_spec(rows, spec).cache()
    local = train_xgboost(encoded, spec, ALGORITHM)  # local[2]: in the driver, 2 threads
    distributed = train_xgboost(encoded, spec, ALGORITHM, num_workers=1)  # xgboost.spark, one barrier worker
    assert local.num_boosted_rounds() == distributed.num_boosted_rounds() == 15
    sample = rows.limit(2000).toPandas()
    x = encode_columns(spec, {c: sample[c].to_numpy() for c in INPUT_COLUMNS})
    a, b = local.inplace_predict(x), distributed.inplace_predict(x)
    assert np.corrcoef(a, b)[0, 1] > 0.999
    np.testing.assert_allclose(a, b, rtol=0.02, atol=1e-3)
    encoded.unpersist()
