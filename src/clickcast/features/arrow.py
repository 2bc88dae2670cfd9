"""The reference transform (clickcast.features.spec.encode_columns) on Arrow record batches.

Batch scoring gets its rows as Arrow batches; encoding them where they are
(categorical codes by Arrow's hash lookup, no conversion of strings to Python
objects) is what lets scoring keep up with in-process prediction. The numbers
are the reference transform's exactly: codes by position in the vocabulary + 1,
UNKNOWN_CODE for nulls and unseen values, numeric columns as float32, date
features by the same function. tests/unit/features/test_feature_spec.py checks both
agree on the same rows.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from clickcast.features.spec import UNKNOWN_CODE, CategoricalVocabulary, FeatureSpec, date_feature_values


@cache
def _value_set(values: tuple[str, ...]) -> pa.Array:
    return pa.array(values, type=pa.string())


def categorical_codes(vocab: CategoricalVocabulary, values: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.float32]:
    """Codes of `values` compared as strings (as the reference does); nulls and unseen values: UNKNOWN_CODE."""
    text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    index = pc.index_in(text, value_set=_value_set(tuple(vocab.values)))
    codes = pc.fill_null(pc.add(index, 1), UNKNOWN_CODE)
    return np.asarray(codes.to_numpy(zero_copy_only=False), dtype=np.float32)


def encode_batch(spec: FeatureSpec, batch: pa.RecordBatch | pa.Table) -> npt.NDArray[np.float32]:
    """The model's input matrix for contract rows given as an Arrow batch (columns by name)."""
    out = np.empty((batch.num_rows, len(spec.feature_names)), dtype=np.float32)
    j = 0
    for vocab in spec.categorical:
        out[:, j] = categorical_codes(vocab, batch.column(vocab.column))
        j += 1
    for name in spec.numeric:
        out[:, j] = np.asarray(batch.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)
        j += 1
    if spec.date_features:
        days = np.asarray(batch.column(spec.date_column).to_numpy(zero_copy_only=False), dtype="datetime64[D]")
        for feature in spec.date_features:
            out[:, j] = date_feature_values(feature, days)
            j += 1
    return out
