"""The canary guardrails' data: a real prediction service's own metrics, scraped over HTTP."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from clickcast.runtime.service_health import health_from_metrics, latency_quantile, scrape
from tests.serving.conftest import Served
from tests.serving.test_http import OFFER

pytestmark = pytest.mark.e2e


def test_latency_quantile_interpolates_within_the_bucket() -> None:
    buckets = [(0.01, 50.0), (0.1, 90.0), (1.0, 100.0), (float("inf"), 100.0)]
    assert latency_quantile(buckets, 0.5) == pytest.approx(0.01)
    assert latency_quantile(buckets, 0.95) == pytest.approx(0.1 + 0.9 * 0.5)
    assert latency_quantile([(0.1, 0.0), (float("inf"), 0.0)], 0.99) is None
    assert latency_quantile([(0.1, 1.0), (float("inf"), 10.0)], 0.99) == 0.1  # past the last finite bound


def test_health_counts_server_errors_apart_from_client_errors() -> None:
    text = """# TYPE clickcast_request_duration_seconds histogram
clickcast_request_duration_seconds_bucket{endpoint="predict",le="0.01"} 90
clickcast_request_duration_seconds_bucket{endpoint="predict",le="+Inf"} 100
clickcast_request_duration_seconds_count{endpoint="predict"} 100
clickcast_request_duration_seconds_sum{endpoint="predict"} 0.5
# TYPE clickcast_request_errors counter
clickcast_request_errors_total{endpoint="predict",status="500"} 4
clickcast_request_errors_total{endpoint="predict",status="422"} 6
clickcast_request_errors_total{endpoint="healthz",status="500"} 1000
"""
    health = health_from_metrics([text, text])  # two pods
    assert (health.requests, health.server_errors) == (220, 8)
    assert health.p99_seconds == pytest.approx(0.01)


def test_scraping_a_running_service(stable: Served) -> None:
    with httpx.Client(base_url=stable.url, timeout=10) as client:
        before = asyncio.run(scrape([f"{stable.url}/metrics"]))
        assert before is not None
        for _ in range(30):
            assert client.post("/predict", json=OFFER).status_code == 200
        assert client.post("/predict", json={**OFFER, "price": "cheap"}).status_code == 422
    after = asyncio.run(scrape([f"{stable.url}/metrics", "http://127.0.0.1:9/metrics"]))  # one pod unreachable
    assert after is not None
    assert after.requests - before.requests == 31
    assert after.server_errors == before.server_errors
    assert after.p99_seconds is not None and 0 < after.p99_seconds < 1.0
    assert asyncio.run(scrape(["http://127.0.0.1:9/metrics"])) is None  # nothing answered: no data, not a failure
