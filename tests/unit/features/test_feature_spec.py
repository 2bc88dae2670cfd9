"""The serving-side feature transform (the reference the Spark transform must match)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from clickcast.api.spec import DateFeature
from clickcast.features.spec import UNKNOWN_CODE, CategoricalVocabulary, FeatureSpec, encode_columns

pytestmark = pytest.mark.unit


@given(st.dates(min_value=dt.date(1971, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_date_features_agree_with_the_calendar(day: dt.date) -> None:
    spec = FeatureSpec(date_features=list(DateFeature))
    row = encode_columns(spec, {"date": [day.isoformat()]})[0]
    assert row.tolist() == [day.weekday(), day.day, day.month, day.isocalendar()[1], float(day.weekday() >= 5)]


def test_categories_by_code_with_an_unknown_bucket() -> None:
    spec = FeatureSpec(categorical=[CategoricalVocabulary(column="merchantId", values=["17", "4"])], numeric=["price"])
    out = encode_columns(spec, {"merchantId": [4, "17", 999, None], "price": [1.0, 2.5, None, 0.0]})
    assert out[:, 0].tolist() == [2, 1, UNKNOWN_CODE, UNKNOWN_CODE]
    assert np.isnan(out[2, 1])
    assert spec.feature_types == ["c", "q"]


@example(vocab=[""], values=[None] * 63 + ["\x00"])  # fixed-width numpy strings would strip the NUL
@given(
    st.lists(st.text(max_size=3), max_size=20, unique=True),
    st.lists(st.one_of(st.none(), st.text(max_size=3), st.integers(-5, 50)), min_size=60, max_size=200),
)
def test_vectorised_lookup_equals_the_dict_lookup(vocab: list[str], values: list[object]) -> None:
    v = CategoricalVocabulary(column="c", values=vocab)
    expected = [UNKNOWN_CODE if x is None else v.code_of.get(str(x), UNKNOWN_CODE) for x in values]
    assert v.encode(values).tolist() == expected
    assert v.encode(values[:10]).tolist() == expected[:10]
