"""The Arrow-batch transform (batch scoring) equals the reference transform (serving) on the same rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from clickcast.api.spec import DateFeature
from clickcast.features.arrow import encode_batch
from clickcast.features.spec import CategoricalVocabulary, FeatureSpec, encode_columns

pytestmark = pytest.mark.unit
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=3)


@settings(deadline=None)  # the first call initialises Arrow compute
@example(vocab=["", "a"], values=[None, "", "\x00", "a", "a\x00", "b"], prices=[1.0, None, 2.5, 0.0, 1e9, 3.0])
@given(
    st.lists(TEXT, max_size=20, unique=True),
    st.lists(st.one_of(st.none(), TEXT), min_size=1, max_size=150),
    st.lists(st.one_of(st.none(), st.floats(0, 1e9)), min_size=150, max_size=150),
)
def test_arrow_batches_encode_exactly_as_the_reference(
    vocab: list[str], values: list[str | None], prices: list[float | None]
) -> None:
    n = len(values)
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i * 37 % 400) for i in range(n)]
    spec = FeatureSpec(
        categorical=[CategoricalVocabulary(column="merchantId", values=vocab)],
        numeric=["price"],
        date_features=list(DateFeature),
    )
    batch = pa.record_batch(
        {"merchantId": pa.array(values, pa.string()), "price": pa.array(prices[:n], pa.float64()),
         "date": pa.array(days, pa.date32())}
    )  # fmt: skip
    reference = encode_columns(spec, {"merchantId": values, "price": [np.nan if p is None else p for p in prices[:n]],
                                      "date": [d.isoformat() for d in days]})  # fmt: skip
    np.testing.assert_array_equal(encode_batch(spec, batch), reference)
