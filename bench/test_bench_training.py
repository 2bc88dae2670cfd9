"""Benchmarks (marker `bench`, excluded by default): `make bench`, or
`BENCH_ROWS=1000000 .venv/bin/pytest bench -m bench -s -p no:cacheprovider`.

Prints wall time, rows/s, peak memory and the Spark/plain ratios measured in the same run.
"""

from __future__ import annotations

import os
import resource
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import xgboost as xgb
from pyspark.sql import SparkSession

from clickcast.api.spec import Algorithm, Features
from clickcast.features.contract import CLICKS, INPUT_COLUMNS
from clickcast.features.spec import encode_columns
from clickcast.jobs.data import read_dataset
from clickcast.jobs.featurize import apply_feature_spec, fit_feature_spec
from clickcast.jobs.generate import GeneratorConfig, generate
from clickcast.jobs.score import score
from clickcast.jobs.session import spark_session
from clickcast.jobs.xgb import train_xgboost, xgboost_params
from clickcast.model.artifact import FEATURES_FILE, METRICS_FILE, MODEL_FILE, load_predictor
from clickcast.store import ModelStore

pytestmark = pytest.mark.bench

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
ALGORITHM = Algorithm.model_validate(
    {"xgboost": {"numRounds": 100, "maxDepth": 6, "subsample": 1.0, "colsampleBytree": 1.0}}
)


def _peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "clicks"
    start = time.perf_counter()
    generate(GeneratorConfig(rows=ROWS, days=90, seed=7), f"file://{out}")
    print(f"\ngenerate: {ROWS} rows in {time.perf_counter() - start:.1f} s")
    return out


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    start = time.perf_counter()
    session = spark_session(
        "local[2]", "clickcast-bench", {"spark.driver.memory": "4g", "spark.driver.host": "127.0.0.1"}
    )
    print(f"spark start: {time.perf_counter() - start:.1f} s")
    yield session
    session.stop()


def test_training_spark_vs_plain(spark: SparkSession, data: Path, tmp_path: Path) -> None:
    rows = read_dataset(spark, f"file://{data}").rows
    spec = fit_feature_spec(rows, Features(date_features=["dayOfWeek"]))  # type: ignore[list-item]
    encoded = apply_feature_spec(rows, spec).repartition(2).cache()
    n = encoded.count()  # materialise: both fits start from features in memory

    table = pq.read_table(data).to_pandas()
    x = encode_columns(spec, {c: table[c].to_numpy() for c in INPUT_COLUMNS})
    y = table[CLICKS].to_numpy(dtype=np.float32)
    params = xgboost_params(ALGORITHM)
    rounds = params.pop("n_estimators")
    booster_params = {**params, "nthread": 2, "eta": params.pop("learning_rate"), "seed": params.pop("random_state")}
    start = time.perf_counter()
    dtrain = xgb.DMatrix(
        x, y, feature_names=spec.feature_names, feature_types=spec.feature_types, enable_categorical=True
    )
    plain_booster = xgb.train(booster_params, dtrain, num_boost_round=rounds)
    plain = time.perf_counter() - start

    results = {}
    for workers in (2, 1):
        start = time.perf_counter()
        booster = train_xgboost(encoded, spec, ALGORITHM, num_workers=workers)
        results[workers] = time.perf_counter() - start
    own, children = _peak_mb()
    print(f"\ntraining {n} rows, {len(spec.feature_names)} features, {rounds} trees depth 6, Poisson")
    print(f"  plain xgb.train (2 threads): {plain:.1f} s, {n / plain:,.0f} rows/s")
    for workers, wall in results.items():
        print(f"  SparkXGBRegressor local[2] num_workers={workers}: {wall:.1f} s, {n / wall:,.0f} rows/s, "
              f"ratio spark/plain {wall / plain:.2f}x")  # fmt: skip
    print(f"  peak RSS: driver {own:.0f} MB, largest child (JVM) {children:.0f} MB")
    assert booster.num_boosted_rounds() == plain_booster.num_boosted_rounds() == rounds

    # Batch scoring: score.py on local[2] against plain in-process predict of the same rows.
    store = ModelStore(f"file://{tmp_path}/store")
    uri = store.publish(
        "bench", "v1",
        {MODEL_FILE: bytes(plain_booster.save_raw("json")), FEATURES_FILE: spec.model_dump_json().encode(),
         METRICS_FILE: b"{}"},
    ).uri  # fmt: skip
    predictor = load_predictor(uri)
    start = time.perf_counter()
    columns = {c: pq.read_table(data, columns=list(INPUT_COLUMNS)).column(c).to_numpy() for c in INPUT_COLUMNS}
    predictor.predict(columns)
    plain_score = time.perf_counter() - start
    # Twice: the first run pays for Python worker start-up and imports, which a long batch job amortises.
    for attempt in ("cold", "warm"):
        start = time.perf_counter()
        score(spark, uri, f"file://{data}", f"file://{tmp_path}/scored")
        spark_score = time.perf_counter() - start
        shutil.rmtree(tmp_path / "scored")
        print(f"scoring {n} rows ({attempt}): plain read+encode+predict {plain_score:.1f} s "
              f"({n / plain_score:,.0f} rows/s); score.py local[2] read+validate+encode+predict+write "
              f"{spark_score:.1f} s ({n / spark_score:,.0f} rows/s); "
              f"spark/plain rows/s {plain_score / spark_score:.2f}")  # fmt: skip
