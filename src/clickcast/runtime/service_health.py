"""The canary's own metrics (error rate, p99 latency), scraped from its pods for the guardrails beside the test.

Summed over the pods' counters since they started (a canary's pods are new with each candidate). A pod that
cannot be reached counts as no data, which is not a failure: the guardrail judges only what it saw.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Sequence

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from clickcast.core.observed import ServiceHealth

LATENCY = "clickcast_request_duration_seconds"
ERRORS = "clickcast_request_errors"
ENDPOINTS = frozenset({"predict", "predict_batch"})
SCRAPE_TIMEOUT = 2.0


def latency_quantile(buckets: Sequence[tuple[float, float]], q: float) -> float | None:
    """The q-quantile from cumulative histogram buckets (upper bound, count), interpolated within a bucket."""
    ordered = sorted(buckets)
    total = ordered[-1][1] if ordered else 0.0
    if total <= 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for upper, count in ordered:
        if count >= rank:
            if math.isinf(upper):
                return lower  # beyond the last finite bucket: its bound is the best estimate
            return lower + (upper - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = upper, count
    return lower


def health_from_metrics(texts: Iterable[str]) -> ServiceHealth:
    """Requests, server errors and p99 latency of the prediction endpoints, summed over the pods' exposition texts."""
    successes = errors = 0.0
    buckets: dict[float, float] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.labels.get("endpoint") not in ENDPOINTS:
                    continue
                if sample.name == f"{LATENCY}_bucket":
                    bound = float(sample.labels["le"])
                    buckets[bound] = buckets.get(bound, 0.0) + sample.value
                elif sample.name == f"{LATENCY}_count":
                    successes += sample.value
                elif sample.name == f"{ERRORS}_total" and sample.labels.get("status", "").startswith("5"):
                    errors += sample.value
                elif sample.name == f"{ERRORS}_total":
                    successes += sample.value  # a client error was answered, correctly
    return ServiceHealth(successes + errors, errors, latency_quantile(list(buckets.items()), 0.99))


async def scrape(urls: Sequence[str]) -> ServiceHealth | None:
    """The summed health of the pods at `urls` (their /metrics); None when none answered."""
    timeout = aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one(url: str) -> str | None:
            try:
                async with session.get(url) as response:
                    return await response.text() if response.status == 200 else None
            except (aiohttp.ClientError, TimeoutError):
                return None

        texts = [t for t in await asyncio.gather(*(one(u) for u in urls)) if t is not None]
    return health_from_metrics(texts) if texts else None
