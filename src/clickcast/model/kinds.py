"""The model kinds a version can hold, behind one typed interface.

A version holds exactly one model file; its name says the kind:

    model.json   an xgboost Booster (native JSON)
    glm.json     a GlmModel (clickcast.model.glm)

`load_model` is the one loader: serving, batch scoring and the training job's
test-window predictions all go through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from clickcast.model.glm import GlmModel

MODEL_FILE = "model.json"
GLM_FILE = "glm.json"
MODEL_FILES = (MODEL_FILE, GLM_FILE)
"""A version holds exactly one of these."""


class ClickModelKind(Protocol):
    """What every model kind does: expected clicks from encoded feature rows."""

    def predict_matrix(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]: ...

    def set_threads(self, threads: int) -> None:
        """Threads a single prediction call may use (1 where the caller already parallelises)."""


class XGBoostModel:
    """An xgboost Booster (imported lazily: the operator image does not ship xgboost)."""

    def __init__(self, data: bytes) -> None:
        import xgboost as xgb  # noqa: PLC0415 - heavy, and only the jobs/serving images have it

        self.booster: Any = xgb.Booster()
        self.booster.load_model(bytearray(data))

    def predict_matrix(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        return np.asarray(self.booster.inplace_predict(matrix, validate_features=False), dtype=np.float64)

    def set_threads(self, threads: int) -> None:
        self.booster.set_param({"nthread": threads})


class GlmKind:
    """A GlmModel: numpy only, single-threaded."""

    def __init__(self, data: bytes) -> None:
        self.glm = GlmModel.model_validate_json(data)

    def predict_matrix(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        return self.glm.predict_matrix(matrix)

    def set_threads(self, threads: int) -> None:
        pass  # one matrix product; nothing to tune


def model_file(files: Mapping[str, bytes]) -> str | None:
    """The name of the model file among a version's files (None if there is none)."""
    return next((name for name in MODEL_FILES if name in files), None)


def load_model(name: str, data: bytes) -> ClickModelKind:
    """Load a model file by its name."""
    if name == MODEL_FILE:
        return XGBoostModel(data)
    if name == GLM_FILE:
        return GlmKind(data)
    raise ValueError(f"unknown model file {name!r}: expected one of {', '.join(MODEL_FILES)}")
