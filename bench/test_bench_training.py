"""Benchmarks (marker `bench`, excluded by default): `make bench`, or
`BENCH_ROWS=1000000 .venv/bin/pytest bench -m bench -s -p no:cacheprovider`.

Prints wall time, rows/s, peak memory (sampled RSS of this process and of the Spark JVM) and the
Spark/plain ratios measured in the same run.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import psutil
import pyarrow.parquet as pq
import pytest
import xgboost as xgb
from pyspark.sql import SparkSession

from clickcast.api.spec import Algorithm, Features
from clickcast.features.arrow import encode_batch
from clickcast.features.contract import CLICKS, INPUT_COLUMNS
from clickcast.features.spec import FeatureSpec, encode_columns
from clickcast.jobs.data import read_dataset
from clickcast.jobs.featurize import apply_feature_spec, feature_columns, fit_feature_spec
from clickcast.jobs.generate import GeneratorConfig, generate
from clickcast.jobs.score import score
from clickcast.jobs.session import spark_session
from clickcast.jobs.xgb import booster_params, train_xgboost
from clickcast.model.artifact import FEATURES_FILE, METRICS_FILE, MODEL_FILE, load_predictor
from clickcast.store import ModelStore

pytestmark = pytest.mark.bench

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
ALGORITHM = Algorithm.model_validate(
    {"xgboost": {"numRounds": 100, "maxDepth": 6, "subsample": 1.0, "colsampleBytree": 1.0}}
)


@contextmanager
def peak_rss(label: str) -> Iterator[None]:
    """Print the peak RSS of this process and of its children (the Spark JVM, Python workers) during the block.

    Sampled every 50 ms: the JVM is alive throughout, so getrusage's RUSAGE_CHILDREN (which counts only
    children that have exited) cannot see it.
    """
    me = psutil.Process()
    peaks = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            children = 0
            for child in me.children(recursive=True):
                with suppress(psutil.Error):
                    children += child.memory_info().rss
            peaks[0], peaks[1] = max(peaks[0], me.memory_info().rss), max(peaks[1], children)
            done.wait(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        print(f"  peak RSS during {label}: python {peaks[0] / 2**20:,.0f} MB, "
              f"JVM + Python workers {peaks[1] / 2**20:,.0f} MB")  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "clicks"
    start = time.perf_counter()
    written = generate(GeneratorConfig(rows=ROWS, days=90, seed=7), f"file://{out}")
    print(f"\ngenerate: {written} rows in {time.perf_counter() - start:.1f} s")
    assert written == ROWS
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
    n = encoded.count()  # materialise: every fit starts from features in memory
    print(f"\ntraining {n} rows, {len(spec.feature_names)} features, {ALGORITHM.xgboost.num_rounds} trees depth 6")

    table = pq.read_table(data).to_pandas()
    x = encode_columns(spec, {c: table[c].to_numpy() for c in INPUT_COLUMNS})
    y = table[CLICKS].to_numpy(dtype=np.float32)
    del table
    params, rounds = booster_params(ALGORITHM, threads=2)
    with peak_rss("plain xgb.train"):
        start = time.perf_counter()
        dtrain = xgb.QuantileDMatrix(
            x, y, feature_names=spec.feature_names, feature_types=spec.feature_types, enable_categorical=True
        )
        plain_booster = xgb.train(params, dtrain, num_boost_round=rounds)
        plain = time.perf_counter() - start
    del x, y, dtrain
    print(f"  plain xgb.train (2 threads, QuantileDMatrix from numpy): {plain:.1f} s, {n / plain:,.0f} rows/s")

    # Where the job's local fit spends its time: gathering the encoded rows as Arrow, then xgboost itself.
    start = time.perf_counter()
    encoded.select(*feature_columns(spec), CLICKS).toArrow()
    gather = time.perf_counter() - start
    with peak_rss("the job's fit (train_xgboost, local master)"):
        start = time.perf_counter()
        booster = train_xgboost(encoded, spec, ALGORITHM)
        job = time.perf_counter() - start
    print(f"  job fit, local[2] (rows to the driver as Arrow, one xgboost with 2 threads): {job:.1f} s, "
          f"{n / job:,.0f} rows/s, ratio {job / plain:.2f}x (target 2.0x); gathering alone {gather:.1f} s")  # fmt: skip
    assert booster.num_boosted_rounds() == plain_booster.num_boosted_rounds() == rounds

    # What a cluster runs (xgboost.spark): 2 workers of 1 thread each, the same 2 threads in all.
    with peak_rss("xgboost.spark, 2 workers"):
        start = time.perf_counter()
        train_xgboost(encoded, spec, ALGORITHM, num_workers=2)
        distributed = time.perf_counter() - start
    print(f"  xgboost.spark SparkXGBRegressor local[2], num_workers=2 x 1 thread: {distributed:.1f} s, "
          f"{n / distributed:,.0f} rows/s, ratio {distributed / plain:.2f}x")  # fmt: skip
    encoded.unpersist()
    _bench_scoring(spark, data, spec, plain_booster, tmp_path, n=n)


def _bench_scoring(
    spark: SparkSession, data: Path, spec: FeatureSpec, booster: xgb.Booster, tmp_path: Path, *, n: int
) -> None:
    """Batch scoring: score.py on local[2] against plain in-process predict of the same rows."""
    store = ModelStore(f"file://{tmp_path}/store")
    uri = store.publish(
        "bench", "v1",
        {MODEL_FILE: bytes(booster.save_raw("json")), FEATURES_FILE: spec.model_dump_json().encode(),
         METRICS_FILE: b"{}"},
    ).uri  # fmt: skip
    predictor = load_predictor(uri)
    with peak_rss("plain read + encode + predict"):
        start = time.perf_counter()
        columns = {c: pq.read_table(data, columns=list(INPUT_COLUMNS)).column(c).to_numpy() for c in INPUT_COLUMNS}
        predictor.predict(columns)
        plain_score = time.perf_counter() - start
    del columns
    start = time.perf_counter()
    predictor.predict_matrix(encode_batch(spec, pq.read_table(data, columns=list(INPUT_COLUMNS))))
    plain_arrow = time.perf_counter() - start
    print(f"  plain read + Arrow encode (the scoring job's encoder) + predict: {plain_arrow:.1f} s "
          f"({n / plain_arrow:,.0f} rows/s)")  # fmt: skip
    # Twice: the first run pays for Python worker start-up and imports, which a long batch job amortises.
    for attempt in ("cold", "warm"):
        with peak_rss(f"score.py ({attempt})"):
            start = time.perf_counter()
            score(spark, uri, f"file://{data}", f"file://{tmp_path}/scored")
            spark_score = time.perf_counter() - start
        shutil.rmtree(tmp_path / "scored")
        print(f"scoring {n} rows ({attempt}): plain read+encode+predict {plain_score:.1f} s "
              f"({n / plain_score:,.0f} rows/s); score.py local[2] read+validate+encode+predict+write "
              f"{spark_score:.1f} s ({n / spark_score:,.0f} rows/s); "
              f"spark/plain rows/s {plain_score / spark_score:.2f} (target 0.5), "
              f"against plain with the Arrow encoder {plain_arrow / spark_score:.2f}")  # fmt: skip
