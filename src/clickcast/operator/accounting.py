"""What each reconciliation adds to the operator's metrics and logs: phase times, transitions, trainings,
gate failures, releases, and the per-ClickModel gauges alerts are written against. Matches `EventReason`
members, never free strings."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from clickcast.analysis.gates import failed
from clickcast.api.status import ClickModelStatus, QualityState
from clickcast.core.events import EventReason
from clickcast.core.plan import Plan, StartTraining
from clickcast.operator import metrics

log = logging.getLogger("clickcast.operator")
Key = tuple[str, str]  # (namespace, name)
TRAINING_OUTCOME = {EventReason.TRAINING_SUCCEEDED: "succeeded", EventReason.TRAINING_FAILED: "failed"}
"""The trainings counter's label for each Event that ends a training run."""


def log_fields(key: Key, status: ClickModelStatus | None) -> dict[str, Any]:
    """Structured fields of every log line: the ClickModel, its version in flight (or stable) and its phase."""
    version = None
    if status is not None:
        version = (status.candidate and status.candidate.version) or (
            status.training and status.training.version) or (status.stable and status.stable.version)  # fmt: skip
    return {"clickmodel": f"{key[0]}/{key[1]}", "version": version, "phase": status.phase if status else None}


def account(key: Key, before: ClickModelStatus, plan: Plan, now: datetime) -> None:
    after = plan.status
    extra = log_fields(key, after)
    if after.phase is not before.phase:
        if before.phase_since is not None:
            metrics.PHASE_SECONDS.labels(before.phase).observe((now - before.phase_since).total_seconds())
        log.info("phase %s -> %s", before.phase, after.phase, extra=extra)
    for event in plan.events:
        metrics.TRANSITIONS.labels(event.reason).inc()
        log.info("%s: %s", event.reason, event.message, extra=extra)
        if event.reason in TRAINING_OUTCOME:
            metrics.TRAININGS.labels(TRAINING_OUTCOME[event.reason]).inc()
        if event.reason is EventReason.CANDIDATE_REJECTED and after.history:
            for gate in failed(after.history[0].gates):
                metrics.GATE_FAILURES.labels(gate.name).inc()
    if any(isinstance(a, StartTraining) for a in plan.actions) and before.phase is not after.phase:
        metrics.TRAININGS.labels("started").inc()
    for entry in after.history[: len(after.history) - len(before.history)] if after.history != before.history else []:
        metrics.RELEASES.labels(entry.decision).inc()
    model_gauges(key, after)


def model_gauges(key: Key, status: ClickModelStatus) -> None:
    """The per-ClickModel gauges alerts are written against (quality, canary)."""
    labels = {"namespace": key[0], "clickmodel": key[1]}
    m = status.monitoring
    if m is not None:
        metrics.HEALTHY.labels(**labels).set(
            -1 if m.state is QualityState.UNKNOWN else 1 if m.state is QualityState.HEALTHY else 0)  # fmt: skip
        if m.deviance_ratio is not None:
            metrics.QUALITY_RATIO.labels(**labels).set(m.deviance_ratio)
        if m.cusum is not None:
            metrics.QUALITY_CUSUM.labels(**labels).set(m.cusum)
    c = status.canary
    if c is not None:
        metrics.CANARY_OBSERVATIONS.labels(**labels).set(c.candidate_observations)
        for bound, value in (("estimate", c.deviance_ratio), ("low", c.ci_low), ("high", c.ci_high)):
            if value is not None:
                metrics.CANARY_RATIO.labels(**labels, bound=bound).set(value)
