"""One SparkSession (local[2]), one small generated dataset and one trained version per test run."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from clickcast.api.spec import ClickModelSpec
from clickcast.jobs.generate import GeneratorConfig, generate
from clickcast.jobs.session import spark_session
from clickcast.jobs.train import TrainResult, train

DAYS, TEST_DAYS = 42, 7
SMALL = GeneratorConfig(rows=36_000, days=DAYS, seed=11, merchants=300, categories=60)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = spark_session(
        "local[2]",
        "clickcast-tests",
        {"spark.sql.shuffle.partitions": "4", "spark.driver.host": "127.0.0.1", "spark.driver.memory": "2g"},
    )
    yield session
    session.stop()
    # py4j's finalizers log at interpreter exit, after pytest has closed the stream its handler writes to.
    logging.getLogger("py4j").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "clicks"
    generate(SMALL, f"file://{out}")
    return out


@dataclass(frozen=True)
class Trained:
    result: TrainResult
    spec: ClickModelSpec
    store: Path


def small_spec(data: Path, store: Path, **algorithm: object) -> ClickModelSpec:
    return ClickModelSpec.model_validate(
        {
            "data": {"url": f"file://{data}", "window": {"trainDays": DAYS, "testDays": TEST_DAYS}},
            "store": {"url": f"file://{store}"},
            "features": {"minCategoryCount": 3},
            "algorithm": {"xgboost": {"numRounds": 80}, **algorithm},
            "validation": {"segments": {"columns": ["device", "category"], "topValues": 5}},
        }
    )


@pytest.fixture(scope="session")
def trained(spark: SparkSession, dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    store = tmp_path_factory.mktemp("store")
    spec = small_spec(dataset, store)
    return Trained(train(spark, spec, "offers"), spec, store)
