"""The fitted feature spec: everything needed to turn contract rows into model inputs.

It is fitted on the training data, saved beside the model (`features.json`)
and applied identically by the Spark training job and the serving process.
Categorical values are encoded as integer codes by frequency rank: code 0 is
the explicit unknown bucket (unseen or rare values, nulls), code i > 0 is the
i-th most frequent value. The serving-side transform below is the reference;
the Spark transform must produce the same numbers on the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from clickcast.api.spec import DateFeature

UNKNOWN_CODE = 0
_VECTORISE_FROM = 64  # below this many rows a dict lookup per value is faster than numpy's setup
# Variable-width strings: unlike fixed-width '<U', they keep trailing NULs, so "a\x00" never equals "a".
_TEXT = np.dtypes.StringDType()


class CategoricalVocabulary(BaseModel):
    """Kept values of one categorical column, most frequent first (code = position + 1)."""

    column: str
    values: list[str] = Field(default_factory=list)

    @cached_property
    def code_of(self) -> dict[str, int]:
        """value -> code, built once per loaded spec (the serving hot path looks values up here)."""
        return {value: i + 1 for i, value in enumerate(self.values)}

    @cached_property
    def _sorted(self) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
        keys = np.asarray(self.values, dtype=_TEXT)
        order = np.argsort(keys, kind="stable")
        return keys[order], order.astype(np.int64) + 1

    def encode(self, values: Sequence[Any] | npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """Codes of `values` compared as strings; None and unseen values get UNKNOWN_CODE."""
        if len(values) < _VECTORISE_FROM or not self.values:
            lookup = self.code_of
            return np.fromiter(
                (UNKNOWN_CODE if v is None else lookup.get(str(v), UNKNOWN_CODE) for v in values),
                dtype=np.float32,
                count=len(values),
            )
        # Large batches: a binary search over the sorted vocabulary, in numpy rather than Python.
        arr = np.asarray(values)
        missing = (arr == None) if arr.dtype == object else np.zeros(arr.shape, dtype=bool)  # noqa: E711 - elementwise
        text = arr.astype(_TEXT)
        keys, codes = self._sorted
        idx = np.minimum(np.searchsorted(keys, text), len(keys) - 1)
        hit = (keys[idx] == text) & ~missing
        return np.where(hit, codes[idx], UNKNOWN_CODE).astype(np.float32)


class FeatureSpec(BaseModel):
    """How rows become the model's input matrix; columns in `feature_names` order."""

    date_column: str = "date"
    categorical: list[CategoricalVocabulary] = Field(default_factory=list)
    numeric: list[str] = Field(default_factory=list)
    date_features: list[DateFeature] = Field(default_factory=list)

    @property
    def feature_names(self) -> list[str]:
        return [c.column for c in self.categorical] + list(self.numeric) + [str(f) for f in self.date_features]

    @property
    def feature_types(self) -> list[str]:
        """xgboost feature types: 'c' (categorical codes) or 'q' (quantitative)."""
        return ["c"] * len(self.categorical) + ["q"] * (len(self.numeric) + len(self.date_features))


def date_feature_values(feature: DateFeature, days: npt.NDArray[np.datetime64]) -> npt.NDArray[np.float32]:
    """One date feature for an array of days (datetime64[D])."""
    d = days.astype("datetime64[D]")
    # 1970-01-01 was a Thursday: shift so Monday = 0, like Spark's dayofweek - 2 mod 7.
    dow = (d.astype(np.int64) + 3) % 7
    if feature is DateFeature.DAY_OF_WEEK:
        return dow.astype(np.float32)
    if feature is DateFeature.IS_WEEKEND:
        return (dow >= 5).astype(np.float32)
    months = d.astype("datetime64[M]")
    if feature is DateFeature.MONTH:
        return (months.astype(np.int64) % 12 + 1).astype(np.float32)
    if feature is DateFeature.DAY_OF_MONTH:
        day_of_month: npt.NDArray[np.int64] = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
        return day_of_month.astype(np.float32)
    # ISO week of year: the week containing the Thursday of this day's week.
    thursday = d + (3 - dow).astype("timedelta64[D]")
    year_start = thursday.astype("datetime64[Y]").astype("datetime64[D]")
    week: npt.NDArray[np.int64] = (thursday - year_start).astype(np.int64) // 7 + 1
    return week.astype(np.float32)


Columns = Mapping[str, Sequence[Any] | npt.NDArray[Any]]
"""Contract rows given column-wise: column name -> values."""


def encode_columns(spec: FeatureSpec, columns: Columns) -> npt.NDArray[np.float32]:
    """Encode contract rows given column-wise into the float32 matrix the model takes.

    Categorical values are compared as strings (ids may arrive as int or str);
    unseen values and nulls get UNKNOWN_CODE; missing numeric values become NaN.
    """
    n = len(next(iter(columns.values()))) if columns else 0
    out = np.empty((n, len(spec.feature_names)), dtype=np.float32)
    j = 0
    for vocab in spec.categorical:
        out[:, j] = vocab.encode(columns[vocab.column])
        j += 1
    for name in spec.numeric:
        out[:, j] = np.asarray(columns[name], dtype=np.float64)
        j += 1
    if spec.date_features:
        days = np.asarray(columns[spec.date_column], dtype="datetime64[D]")
        for feature in spec.date_features:
            out[:, j] = date_feature_values(feature, days)
            j += 1
    return out
