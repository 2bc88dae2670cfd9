"""Training on generated data with a known signal: the artifact serves and beats the baselines."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from clickcast.analysis.evidence import TrainingEvidence
from clickcast.analysis.metrics import mean_poisson_deviance
from clickcast.api.status import Metrics, SegmentMetrics
from clickcast.features.contract import CLICKS, DATE, INPUT_COLUMNS, OFFER_KEY
from clickcast.jobs.train import Reference, train
from clickcast.model.artifact import DATA_FILE, FEATURES_FILE, METRICS_FILE, MODEL_FILE, PARAMS_FILE, load_predictor
from clickcast.store import ArtifactCorruptError, ModelStore, VersionExistsError
from tests.spark.conftest import Trained

pytestmark = pytest.mark.spark


def _split(dataset: Path, trained: Trained) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = pq.read_table(dataset).to_pandas()
    window = trained.result.status.data
    assert window is not None and window.test_start is not None
    day = pd.to_datetime(df[DATE]).dt.date
    return df[day < window.test_start], df[day >= window.test_start]


def test_artifact_loads_and_predicts_like_the_job_measured(trained: Trained, dataset: Path) -> None:
    status = trained.result.status
    assert status.uri is not None
    predictor = load_predictor(status.uri, status.manifest_sha256)
    assert set(predictor.version.files) == {MODEL_FILE, FEATURES_FILE, METRICS_FILE, PARAMS_FILE, DATA_FILE}
    _, test = _split(dataset, trained)
    predicted = predictor.predict({c: test[c].to_numpy() for c in INPUT_COLUMNS})
    assert np.all(predicted > 0)
    # The job measured the same model on the same rows: the serving path reproduces its deviance.
    assert status.metrics is not None
    assert status.metrics.rows == len(test)
    assert mean_poisson_deviance(test[CLICKS], predicted) == pytest.approx(status.metrics.poisson_deviance, rel=1e-4)
    doc = predictor.metrics
    assert Metrics.model_validate(doc["model"]) == status.metrics
    assert Metrics.model_validate(doc["baseline"]).rows == len(test)
    segments = [SegmentMetrics.model_validate(s) for s in doc["segments"]]
    assert {s.value for s in segments if s.column == "device"} == {"desktop", "mobile", "tablet"}
    assert sum(1 for s in segments if s.column == "category") == 5
    data = json.loads(predictor.version.files[DATA_FILE])
    assert data["rows"] == 36_000 and data["badRows"]["total"] == 0 and len(data["contentHash"]) == 64


def test_model_beats_the_glm_baseline_and_the_per_offer_mean(trained: Trained, dataset: Path) -> None:
    model, baseline = trained.result.status.metrics, trained.result.status.baseline_metrics
    assert model is not None and baseline is not None
    assert model.poisson_deviance is not None and baseline.poisson_deviance is not None
    assert model.poisson_deviance < baseline.poisson_deviance
    assert model.calibration is not None and 0.9 < model.calibration < 1.1

    train, test = _split(dataset, trained)
    offer_mean = train.groupby(list(OFFER_KEY))[CLICKS].mean().rename("offer_mean")
    history = test.join(offer_mean, on=list(OFFER_KEY)).fillna({"offer_mean": train[CLICKS].mean()})
    history_deviance = mean_poisson_deviance(history[CLICKS], history["offer_mean"])
    assert model.poisson_deviance < history_deviance, (model.poisson_deviance, history_deviance)


def test_a_corrupted_byte_fails_the_load(trained: Trained, tmp_path: Path) -> None:
    assert trained.result.status.uri is not None
    source = Path(trained.result.status.uri.removeprefix("file://"))
    copy = tmp_path / "models" / "offers" / source.name
    shutil.copytree(source, copy)
    model = copy / MODEL_FILE
    raw = bytearray(model.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    model.write_bytes(bytes(raw))
    with pytest.raises(ArtifactCorruptError, match=r"model\.json: checksum mismatch"):
        load_predictor(f"file://{copy}")


def test_a_concurrent_second_publish_of_a_version_fails(trained: Trained) -> None:
    assert trained.result.status.uri is not None
    files = dict(load_predictor(trained.result.status.uri).version.files)
    store = ModelStore(f"file://{trained.store}")
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def publish() -> None:
        barrier.wait()
        try:
            store.publish("offers", "v-race", files)
            outcomes.append("published")
        except VersionExistsError:
            outcomes.append("refused")

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["published", "refused"]
    load_predictor(store.version_uri("offers", "v-race"))


def test_a_retrain_measures_the_stable_version_on_its_own_test_window(
    spark: SparkSession, trained: Trained, dataset: Path
) -> None:
    first = trained.result.status
    assert first.uri is not None and first.manifest_sha256 is not None
    spec = trained.spec.model_copy(update={"algorithm": trained.spec.algorithm.model_copy(update={"seed": 7})})
    result = train(
        spark, spec, "offers", version="v-with-reference", reference=Reference(first.uri, first.manifest_sha256)
    )
    assert result.status.version == "v-with-reference"
    assert result.status.uri is not None
    evidence = TrainingEvidence.model_validate(load_predictor(result.status.uri).metrics)
    assert evidence.reference is not None
    assert (evidence.reference.version, evidence.reference.manifest_sha256) == (first.version, first.manifest_sha256)
    # Same data, same window: the stable version measured again gives exactly what it measured when trained.
    assert first.metrics is not None and evidence.reference.metrics.rows == first.metrics.rows
    assert evidence.reference.metrics.poisson_deviance == pytest.approx(first.metrics.poisson_deviance, rel=1e-9)
    assert {s.value for s in evidence.reference.segments if s.column == "device"} == {"desktop", "mobile", "tablet"}
    with pytest.raises(ArtifactCorruptError, match="does not match"):
        train(spark, spec, "offers", version="v-bad-reference", reference=Reference(first.uri, "0" * 64))
