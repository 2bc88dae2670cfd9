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

MODEL = "clickcast"
_MODEL_LABELS = ["namespace", "clickmodel"]
HEALTHY = Gauge("model_healthy", "Quality of the stable version on real clicks: 1 healthy, 0 degraded, -1 unknown.",
                _MODEL_LABELS, namespace=MODEL)  # fmt: skip
QUALITY_RATIO = Gauge("model_quality_deviance_ratio",
                      "The stable version's recent deviance / its test-window deviance (drop detector).",
                      _MODEL_LABELS, namespace=MODEL)  # fmt: skip
QUALITY_CUSUM = Gauge("model_quality_cusum", "The erosion detector's CUSUM statistic.", _MODEL_LABELS,
                      namespace=MODEL)  # fmt: skip
CANARY_RATIO = Gauge("canary_deviance_ratio", "The canary's deviance ratio and its always-valid bounds, by bound.",
                     [*_MODEL_LABELS, "bound"], namespace=MODEL)  # fmt: skip
CANARY_OBSERVATIONS = Gauge("canary_observations", "Offer-days with real clicks the canary test has counted.",
                            _MODEL_LABELS, namespace=MODEL)  # fmt: skip
RELEASES = Counter("releases", "Release decisions, by outcome (Promoted, RolledBack, Rejected, Failed).",
                   ["outcome"], namespace=MODEL)  # fmt: skip
