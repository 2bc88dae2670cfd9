"""Names of the files in a model version, and the predictor that loads them.

A version published by the training job holds:

    model.json     the xgboost Booster in its native JSON format (trained with feature_types from the spec)
    glm.json       instead of model.json when the algorithm is glm: a GlmModel (clickcast.model.glm)
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
from clickcast.model.glm import GlmModel
from clickcast.store.artifacts import VerifiedVersion, load_version

MODEL_FILE = "model.json"
FEATURES_FILE = "features.json"
METRICS_FILE = "metrics.json"
PARAMS_FILE = "params.json"
DATA_FILE = "data.json"
GLM_FILE = "glm.json"
REQUIRED_FILES = (FEATURES_FILE, METRICS_FILE)
MODEL_FILES = (MODEL_FILE, GLM_FILE)
"""A version holds exactly one of these."""


@dataclass(frozen=True)
class Predictor:
    """One verified model version, ready to predict clicks from contract rows."""

    version: VerifiedVersion
    features: FeatureSpec
    booster: Any  # xgboost.Booster, or a GlmModel (imported lazily: the operator image does not ship xgboost)

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
        out = self.booster.inplace_predict(matrix, validate_features=False)
        return np.asarray(out, dtype=np.float64)

    def predict(self, columns: Columns) -> npt.NDArray[np.float64]:
        """Expected clicks for contract rows given column-wise."""
        return self.predict_matrix(self.encode(columns))


def load_predictor(uri: str, expected_manifest_sha256: str | None = None, **storage_options: Any) -> Predictor:
    """Load and verify a version; raise a StoreError (or ValueError) with a clear message if it cannot serve."""
    import xgboost as xgb  # noqa: PLC0415 - heavy, and only the jobs/serving images have it

    version = load_version(uri, expected_manifest_sha256, **storage_options)
    missing = [name for name in REQUIRED_FILES if name not in version.files]
    if not any(name in version.files for name in MODEL_FILES):
        missing.append(" or ".join(MODEL_FILES))
    if missing:
        raise ValueError(f"{uri}: not a model version (missing {', '.join(missing)})")
    features = FeatureSpec.model_validate_json(version.files[FEATURES_FILE])
    booster: Any
    if MODEL_FILE in version.files:
        booster = xgb.Booster()
        booster.load_model(bytearray(version.files[MODEL_FILE]))
    else:
        booster = GlmModel.model_validate_json(version.files[GLM_FILE])
    return Predictor(version=version, features=features, booster=booster)
