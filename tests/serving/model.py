"""A small click model trained with plain xgboost on synthetic contract rows, published like the training job does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from clickcast.api.spec import DateFeature
from clickcast.features.spec import CategoricalVocabulary, FeatureSpec, encode_columns
from clickcast.model.artifact import FEATURES_FILE, GLM_FILE, METRICS_FILE, MODEL_FILE
from clickcast.model.glm import GlmModel, glm_terms
from clickcast.store import ModelStore

CATEGORIES = ["shoes", "phones", "books", "garden", "toys"]


def synthetic_rows(n: int, seed: int = 0) -> dict[str, list[Any]]:
    rng = np.random.default_rng(seed)
    return {
        "date": (np.datetime64("2026-01-01") + rng.integers(0, 60, n)).astype(str).tolist(),
        "categoryId": [str(v) for v in rng.integers(1, 30, n)],
        "merchantId": [str(v) for v in rng.integers(100, 160, n)],
        "category": rng.choice(CATEGORIES, n).tolist(),
        "device": rng.choice(["mobile", "desktop", "tablet"], n).tolist(),
        "price": rng.uniform(1, 200, n).round(2).tolist(),
    }


def publish_model(store_url: str, model: str = "offers", version: str = "v1", seed: int = 0) -> str:
    """Train on synthetic rows and publish; returns the version URI."""
    rows = synthetic_rows(3000, seed)
    spec = FeatureSpec(
        categorical=[
            CategoricalVocabulary(column="categoryId", values=[str(i) for i in range(1, 25)]),
            CategoricalVocabulary(column="merchantId", values=[str(i) for i in range(100, 150)]),
            CategoricalVocabulary(column="category", values=CATEGORIES[:4]),
            CategoricalVocabulary(column="device", values=["mobile", "desktop", "tablet"]),
        ],
        numeric=["price"],
        date_features=[DateFeature.DAY_OF_WEEK, DateFeature.MONTH],
    )
    x = encode_columns(spec, rows)
    rng = np.random.default_rng(seed + 1)
    y = rng.poisson(np.exp(0.8 + 0.4 * (x[:, 3] == 1) - 0.004 * x[:, 4] + 0.1 * (x[:, 5] >= 5)))
    dtrain = xgb.DMatrix(
        x, y, feature_names=spec.feature_names, feature_types=spec.feature_types, enable_categorical=True
    )
    booster = xgb.train({"objective": "count:poisson", "max_depth": 4, "seed": seed}, dtrain, num_boost_round=30)
    return (
        ModelStore(store_url)
        .publish(
            model,
            version,
            {
                MODEL_FILE: bytes(booster.save_raw("json")),
                FEATURES_FILE: spec.model_dump_json().encode(),
                METRICS_FILE: b'{"model": {"mae": 1.2, "rows": 3000}}',
            },
        )
        .uri
    )


def store_url(path: Path) -> str:
    return f"file://{path}"


def publish_glm_model(store_url: str, model: str = "offers", version: str = "v-glm", seed: int = 0) -> str:
    """A GLM version (glm.json instead of model.json), as the training job publishes for `algorithm.name: glm`."""
    spec = FeatureSpec(
        categorical=[
            CategoricalVocabulary(column="category", values=CATEGORIES[:4]),
            CategoricalVocabulary(column="device", values=["mobile", "desktop", "tablet"]),
        ],
        numeric=["price"],
        date_features=[DateFeature.DAY_OF_WEEK],
    )
    rng = np.random.default_rng(seed)
    terms = glm_terms(spec, {"dayOfWeek": list(range(7))})
    glm = GlmModel(
        feature_names=spec.feature_names,
        intercept=0.3,
        terms=[
            t.model_copy(update={"coef": float(c)}) for t, c in zip(terms, rng.normal(0, 0.2, len(terms)), strict=True)
        ],
    )
    files = {
        GLM_FILE: glm.model_dump_json().encode(),
        FEATURES_FILE: spec.model_dump_json().encode(),
        METRICS_FILE: b'{"model": {"rows": 100}}',
    }
    return ModelStore(store_url).publish(model, version, files).uri
