"""Prometheus metrics of the operator (served on OperatorConfig.metrics_port)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

NAMESPACE = "clickcast_operator"

RECONCILES = Counter("reconciles", "Reconciliations, by result (ok, conflict, error).", ["result"], namespace=NAMESPACE)
ERRORS = Counter("reconcile_errors", "Failed reconciliations, by exception type.", ["error"], namespace=NAMESPACE)
RECONCILE_SECONDS = Histogram(
    "reconcile_duration_seconds", "Time of one reconciliation (observe, decide, write, act).", namespace=NAMESPACE
)
PHASE_SECONDS = Histogram(
    "phase_duration_seconds",
    "Time ClickModels spent in a phase, observed when they leave it.",
    ["phase"],
    namespace=NAMESPACE,
    buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, float("inf")),
)
TRANSITIONS = Counter("transitions", "Lifecycle Events emitted, by reason.", ["reason"], namespace=NAMESPACE)
TRAININGS = Counter("trainings", "Training runs, by outcome (started, succeeded, failed).", ["outcome"],
                    namespace=NAMESPACE)  # fmt: skip
GATE_FAILURES = Counter("gate_failures", "Failed validation gates, by gate.", ["gate"], namespace=NAMESPACE)
QUEUE_DEPTH = Gauge("queue_depth", "ClickModels waiting for a worker.", namespace=NAMESPACE)
