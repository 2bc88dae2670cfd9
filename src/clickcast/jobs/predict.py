"""Predictions in Spark with the artifact's own model, on encoded features (`f_*` columns).

The model travels to executors as bytes inside the closure (no driver-only
files), and each Python worker loads it once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import types as T  # noqa: N812

from clickcast.features.spec import FeatureSpec, encode_columns
from clickcast.model.kinds import ClickModelKind, load_model

_LOADED: dict[str, ClickModelKind] = {}


@dataclass(frozen=True)
class ModelBlob:
    """A model file of an artifact: its name says how to load it (model.json: xgboost, glm.json: GlmModel)."""

    name: str
    data: bytes

    def load(self) -> ClickModelKind:
        key = hashlib.sha256(self.data).hexdigest()
        if key not in _LOADED:
            model = load_model(self.name, self.data)
            model.set_threads(1)  # one task per core: Spark already parallelises
            _LOADED[key] = model
        return _LOADED[key]


def predict(df: DataFrame, blob: ModelBlob, features: list[str], output: str) -> DataFrame:
    """`df` with a double column `output`: expected clicks from the float feature columns `features`."""
    schema = T.StructType([*df.schema.fields, T.StructField(output, T.DoubleType())])

    def batches(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = blob.load()
        for frame in frames:
            matrix = frame[features].to_numpy(dtype=np.float32, na_value=np.nan)
            frame[output] = model.predict_matrix(matrix)
            yield frame

    return df.mapInPandas(batches, schema)


def predict_rows(df: DataFrame, blob: ModelBlob, spec: FeatureSpec, output: str) -> DataFrame:
    """`df` (contract rows) with a double column `output`, encoded by the serving-side reference transform.

    One pass and no joins: each Arrow batch is encoded in numpy and predicted
    where it is, which is what batch scoring needs to keep up with in-process predict.
    """
    schema = T.StructType([*df.schema.fields, T.StructField(output, T.DoubleType())])
    needed = [v.column for v in spec.categorical] + list(spec.numeric)
    if spec.date_features:
        needed.append(spec.date_column)

    def batches(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model = blob.load()
        for frame in frames:
            matrix = encode_columns(spec, {c: frame[c].to_numpy() for c in needed})
            frame[output] = model.predict_matrix(matrix)
            yield frame

    return df.mapInPandas(batches, schema)
