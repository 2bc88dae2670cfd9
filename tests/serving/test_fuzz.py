"""Property-based fuzz of the served API: whatever the body, never a 5xx."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickcast.features.contract import DEVICES
from tests.serving.conftest import Served

pytestmark = pytest.mark.e2e

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
anything = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
ids = st.text(max_size=300) | st.integers() | st.floats()
fields: dict[str, st.SearchStrategy[Any]] = {
    "date": st.dates().map(str) | st.text(max_size=12) | anything,
    "categoryId": ids | anything,
    "merchantId": ids | anything,
    "category": st.text(max_size=300) | anything,
    "device": st.sampled_from(DEVICES) | anything,
    "price": st.floats(min_value=0) | st.floats() | st.integers() | anything,
    "requestId": st.text(max_size=300) | anything,
    "offerId": st.text(max_size=300) | anything,
}
names = st.text(min_size=1, max_size=50)
valid = {
    "date": st.dates().map(str),
    "categoryId": names | st.integers(),
    "merchantId": names | st.integers(),
    "category": names,
    "device": st.sampled_from(DEVICES),
    "price": st.floats(min_value=0, max_value=1e12),
}
# Valid offers (any values the contract allows, unseen ones included), and offers with any field wrong or missing.
offer = st.fixed_dictionaries(valid) | st.fixed_dictionaries({}, optional=fields)
bodies = (
    st.tuples(st.just("/predict"), offer.map(lambda o: json.dumps(o).encode()))
    | st.tuples(
        st.just("/predict/batch"),
        st.fixed_dictionaries({"offers": st.lists(offer, max_size=4)}, optional={"requestId": anything}).map(
            lambda o: json.dumps(o).encode()
        ),
    )
    | st.tuples(
        st.sampled_from(["/predict", "/predict/batch"]),
        st.binary(max_size=200) | anything.map(lambda v: json.dumps(v).encode()),
    )
)


def test_fuzzed_requests_never_get_a_5xx(stable: Served) -> None:
    client = httpx.Client(base_url=stable.url, timeout=10, headers={"content-type": "application/json"})
    seen: set[int] = set()

    @settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(bodies)
    def check(case: tuple[str, bytes]) -> None:
        path, body = case
        r = client.post(path, content=body)
        seen.add(r.status_code)
        assert r.status_code < 500, (path, body, r.text)
        if r.status_code == 422:
            assert r.json()["detail"], r.text

    with client:
        check()
    assert {200, 422} <= seen
