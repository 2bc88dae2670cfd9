"""A published xgboost version loads, verifies and predicts like the in-memory booster."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from clickcast.api.spec import DateFeature
from clickcast.features.spec import CategoricalVocabulary, FeatureSpec, encode_columns
from clickcast.model.artifact import FEATURES_FILE, METRICS_FILE, MODEL_FILE, load_predictor
from clickcast.store import ArtifactCorruptError, ModelStore

pytestmark = pytest.mark.unit


def test_published_booster_predicts_identically(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 2000
    cols = {
        "device": rng.choice(["mobile", "desktop", "tablet"], n).tolist(),
        "price": rng.uniform(1, 100, n),
        "date": (np.datetime64("2026-01-01") + rng.integers(0, 60, n)).astype(str).tolist(),
    }
    spec = FeatureSpec(
        categorical=[CategoricalVocabulary(column="device", values=["mobile", "desktop"])],
        numeric=["price"],
        date_features=[DateFeature.DAY_OF_WEEK],
    )
    x = encode_columns(spec, cols)
    y = rng.poisson(np.exp(0.5 + 0.3 * (x[:, 0] == 1) - 0.01 * x[:, 1]))
    dtrain = xgb.DMatrix(
        x, y, feature_names=spec.feature_names, feature_types=spec.feature_types, enable_categorical=True
    )
    booster = xgb.train({"objective": "count:poisson", "max_depth": 3}, dtrain, num_boost_round=10)
    store = ModelStore(f"file://{tmp_path}")
    uri = store.publish(
        "offers",
        "v1",
        {
            MODEL_FILE: bytes(booster.save_raw("json")),
            FEATURES_FILE: spec.model_dump_json().encode(),
            METRICS_FILE: b'{"model": {"rows": 10}}',
        },
    ).uri
    predictor = load_predictor(uri)
    expected = booster.predict(dtrain)
    np.testing.assert_allclose(predictor.predict(cols), expected, rtol=1e-6)
    assert predictor.version_id == "v1"
    assert predictor.metrics["model"]["rows"] == 10

    model_path = tmp_path / "models" / "offers" / "v1" / MODEL_FILE
    model_path.write_bytes(model_path.read_bytes().replace(b"count:poisson", b"count:poissoN"))
    with pytest.raises(ArtifactCorruptError, match=MODEL_FILE):
        load_predictor(uri)
