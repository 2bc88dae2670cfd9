"""The Poisson GLM (baseline, or the model when `algorithm.name` is glm) in a servable form.

Its design is a function of the encoded feature matrix (the FeatureSpec's
output), so serving needs only `features.json` and `glm.json`: each term is a
level indicator of a categorical or calendar feature, a numeric value, or
log1p of a non-negative numeric value; prediction = exp(intercept + sum(coef * term)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from clickcast.api.spec import DateFeature
from clickcast.features.spec import FeatureSpec

GLM_MAX_LEVELS = 50
"""Levels per categorical column in the GLM design (more frequent values first; the rest are the reference)."""
LEVEL_DATE_FEATURES = (DateFeature.DAY_OF_WEEK, DateFeature.MONTH)
"""Calendar features the GLM takes as levels rather than as numbers."""


class TermKind(StrEnum):
    LEVEL = "level"
    LINEAR = "linear"
    LOG1P = "log1p"


class GlmTerm(BaseModel):
    feature: str
    kind: TermKind
    level: float | None = None
    coef: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.feature}={self.level:g}" if self.kind is TermKind.LEVEL else f"{self.kind}({self.feature})"


class GlmModel(BaseModel):
    """A log-link GLM over the encoded features."""

    feature_names: list[str]
    intercept: float = 0.0
    terms: list[GlmTerm] = Field(default_factory=list)

    def design(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        index = {name: j for j, name in enumerate(self.feature_names)}
        out = np.zeros((matrix.shape[0], len(self.terms)), dtype=np.float64)
        for k, term in enumerate(self.terms):
            x = np.nan_to_num(matrix[:, index[term.feature]].astype(np.float64))
            if term.kind is TermKind.LEVEL:
                out[:, k] = x == term.level
            elif term.kind is TermKind.LINEAR:
                out[:, k] = x
            else:
                out[:, k] = np.log1p(np.maximum(x, 0.0))
        return out

    def predict_matrix(self, matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Expected clicks: exp(intercept + design @ coefficients)."""
        coefs = np.asarray([t.coef for t in self.terms], dtype=np.float64)
        return np.asarray(np.exp(self.intercept + self.design(matrix) @ coefs), dtype=np.float64)


def glm_terms(spec: FeatureSpec, date_levels: Mapping[str, Sequence[int]]) -> list[GlmTerm]:
    """The design of the GLM for a feature spec; `date_levels` lists the observed values of level date features."""
    terms: list[GlmTerm] = []
    for vocab in spec.categorical:
        levels = range(1, min(len(vocab.values), GLM_MAX_LEVELS) + 1)
        terms += [GlmTerm(feature=vocab.column, kind=TermKind.LEVEL, level=float(v)) for v in levels]
    for name in spec.numeric:
        terms += [GlmTerm(feature=name, kind=TermKind.LINEAR), GlmTerm(feature=name, kind=TermKind.LOG1P)]
    for feature in spec.date_features:
        if feature in LEVEL_DATE_FEATURES:
            observed = sorted(date_levels.get(str(feature), []))[1:]  # the first observed level is the reference
            terms += [GlmTerm(feature=str(feature), kind=TermKind.LEVEL, level=float(v)) for v in observed]
        else:
            terms.append(GlmTerm(feature=str(feature), kind=TermKind.LINEAR))
    return terms
