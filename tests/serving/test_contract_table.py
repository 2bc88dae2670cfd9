"""Serving's side of the shared contract table (tests/contract_cases.py), over real HTTP.

The service must refuse exactly the rows training rejects, one 422 naming the
field, and answer every row training accepts.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.contract_cases import SERVING_CASES, Case
from tests.serving.conftest import Served

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("case", SERVING_CASES, ids=[c.name for c in SERVING_CASES])
def test_the_service_accepts_and_refuses_what_training_does(stable: Served, case: Case) -> None:
    # NaN and infinities as JSON's de-facto literals (NaN, Infinity), as Python and JavaScript clients send them.
    body = json.dumps(case.row(0)).encode()
    answer = httpx.post(f"{stable.url}/predict", content=body, headers={"content-type": "application/json"})
    if case.reason is None:
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictedClicks"] >= 0
    else:
        assert answer.status_code == 422, answer.text
        assert [e["loc"] for e in answer.json()["detail"]] == [["body", case.field]]
