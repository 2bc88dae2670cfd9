"""Names of the files in a model version, and the predictor that loads them.

A version published by the training job holds:

    model.json     the xgboost Booster in its native JSON format (trained with feature_types from the spec)
    glm.json       instead of model.json when the algorithm is glm: a GlmModel (see clickcast.model.kinds)
    features.json  the fitted FeatureSpec (clickcast.features.spec)
    metrics.json   {"model": Metrics, "baseline": Metrics, "segments": [...], ...} on the test window
    params.json    algorithm, hyper-parameters and the ClickModel spec that trained it
    data.json      data fingerprint: rows, date range, content hash, bad-row counts

Serving loads a version by URI alone; every file is checked against the
manifest before use, so a corrupt artifact never serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from clickcast.features.spec import Columns, FeatureSpec, encode_columns
from clickcast.model.kinds import GLM_FILE, MODEL_FILE, MODEL_FILES, ClickModelKind, load_model, model_file
from clickcast.store.artifacts import VerifiedVersion, load_version

FEATURES_FILE = "features.json"
METRICS_FILE = "metrics.json"
PARAMS_FILE = "params.json"
DATA_FILE = "data.json"
REQUIRED_FILES = (FEATURES_FILE, METRICS_FILE)
__all__ = ["GLM_FILE", "MODEL_FILE", "MODEL_FILES", "Predictor", "load_predictor"]


@dataclass(frozen=True)
class Predictor:
    """One verified model version, ready to predict clicks from contract rows."""

    version: VerifiedVersion
    features: FeatureSpec
    model: ClickModelKind
    model_file: str
    """model.json (xgboost) or glm.json (GLM)."""

    @property
    def version_id(self) -> str:
        return self.version.manifest.version

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.version.json(METRICS_FILE))

    def encode(self, columns: Columns) -> npt.NDArray[np.float32]:
        return encode_columns(self.features, columns)

    def predict_matrix(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Expected clicks for already-encoded rows."""
        return self.model.predict_matrix(matrix)

    def predict(self, columns: Columns) -> npt.NDArray[np.float64]:
        """Expected clicks for contract rows given column-wise."""
        return self.predict_matrix(self.encode(columns))


def load_predictor(uri: str, manifest_sha256: str | None = None, **storage_options: Any) -> Predictor:
    """Load and verify a version; raise a StoreError (or ValueError) with a clear message if it cannot serve."""
    version = load_version(uri, manifest_sha256, **storage_options)
    name = model_file(version.files)
    missing = [f for f in REQUIRED_FILES if f not in version.files] + ([" or ".join(MODEL_FILES)] if not name else [])
    if missing or name is None:
        raise ValueError(f"{uri}: not a model version (missing {', '.join(missing)})")
    features = FeatureSpec.model_validate_json(version.files[FEATURES_FILE])
    return Predictor(version=version, features=features, model=load_model(name, version.files[name]), model_file=name)
