"""Prometheus metrics of the prediction service (prometheus-client).

Under `bentoml serve` the workers run with PROMETHEUS_MULTIPROC_DIR set, so the
values live in shared files and `/metrics` aggregates every worker.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

NAMESPACE = "clickcast"

REQUEST_LATENCY = Histogram(
    "request_duration_seconds",
    "Prediction request latency inside the service, by endpoint.",
    ["endpoint"],
    namespace=NAMESPACE,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
PREDICTIONS = Counter("predictions", "Offers predicted, by role.", ["role"], namespace=NAMESPACE)
PREDICTED_CLICKS = Counter("predicted_clicks", "Sum of predicted clicks, by role.", ["role"], namespace=NAMESPACE)
ERRORS = Counter(
    "request_errors",
    "Requests answered with an error, by endpoint and status.",
    ["endpoint", "status"],
    namespace=NAMESPACE,
)
MODEL_INFO = Gauge(
    "model_info",
    "The model version this process serves (value 1), with its role.",
    ["model", "version", "role"],
    namespace=NAMESPACE,
    multiprocess_mode="max",
)
SHADOW = Counter(
    "shadow_mirror",
    "Requests mirrored to the shadow service, by outcome (sent, error, dropped).",
    ["outcome"],
    namespace=NAMESPACE,
)
SHADOW_DROPPED = Counter(
    "shadow_mirror_dropped",
    "Mirrored requests dropped before they were sent, by reason (queue_full: the count bound; byte_budget: their "
    "bodies would have exceeded SHADOW_QUEUE_BYTES).",
    ["reason"],
    namespace=NAMESPACE,
)
SHADOW_QUEUED_BYTES = Gauge(
    "shadow_mirror_queued_bytes",
    "Bytes of request bodies the mirror holds (queued or being sent).",
    namespace=NAMESPACE,
    multiprocess_mode="livesum",
)
LOG_ROWS = Counter("prediction_log_rows", "Prediction-log rows written to the store.", namespace=NAMESPACE)
LOG_ERRORS = Counter("prediction_log_flush_errors", "Failed prediction-log flushes (retried).", namespace=NAMESPACE)
LOG_DROPPED = Counter(
    "prediction_log_dropped_rows", "Rows dropped because the log buffer was full.", namespace=NAMESPACE
)


def exposition() -> tuple[bytes, str]:
    """The metrics text of this process, or of all workers when running multi-process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY  # noqa: PLC0415

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
