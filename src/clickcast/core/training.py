"""Training: when one is due, starting it, and reading its outcome. Purely computational."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from clickcast.api.duration import parse_duration
from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import (
    CandidateStatus,
    ClickModelStatus,
    ConditionType,
    HistoryEntry,
    Phase,
    ReleaseOutcome,
    TrainingStatus,
)
from clickcast.core.draft import Context, Draft
from clickcast.core.events import EventReason
from clickcast.core.naming import training_run_name, version_id
from clickcast.core.observed import RunObservation, RunState
from clickcast.core.plan import StartTraining, StopRun, VersionPin
from clickcast.core.timing import latest_fire, next_fire, retry_delay

POLL = timedelta(seconds=15)
"""How often to look at a run or rollout in progress when no watch event arrives sooner."""
DEADLINE_GRACE = timedelta(minutes=2)
"""Past `training.timeout`, how long the core waits before stopping a run itself: a Job's own deadline
(activeDeadlineSeconds, counted from its start a little later) fails it first, with the Job's reason."""


class Reason:
    """Why a training starts (status.training.reason)."""

    CREATED = "Created"
    TRIGGER = "Trigger"
    SPEC_CHANGED = "SpecChanged"
    RETRY = "Retry"
    SCHEDULE = "Schedule"
    QUALITY = "QualityDegraded"


def training_spec_hash(spec: ClickModelSpec) -> str:
    """What the model learns from and how: a change retrains. Schedules, images and resources do not."""
    doc = {"data": spec.data.to_wire(), "features": spec.features.to_wire(), "algorithm": spec.algorithm.to_wire()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def schedule_of(spec: ClickModelSpec) -> str | None:
    """The cron schedule of retraining: batch mode's own, else the training's."""
    if not spec.serving.enabled and spec.scoring is not None and spec.scoring.schedule:
        return spec.scoring.schedule
    return spec.training.schedule


def stable_pin(status: ClickModelStatus) -> VersionPin | None:
    s = status.stable
    return VersionPin(s.version, s.uri, s.manifest_sha256) if s is not None and s.uri and s.manifest_sha256 else None


def training_due(ctx: Context, status: ClickModelStatus) -> str | None:
    """Why a training should start now, or None. User actions (trigger, spec change) skip the retry backoff."""
    t, spec, now = status.training, ctx.spec, ctx.now
    if t is None:
        return Reason.CREATED
    if spec.training.trigger is not None and spec.training.trigger != t.last_trigger:
        return Reason.TRIGGER
    if t.spec_hash != training_spec_hash(spec):
        return Reason.SPEC_CHANGED
    if t.failures and t.retry_at is not None:
        return Reason.RETRY if now >= t.retry_at else None
    schedule = schedule_of(spec)
    if schedule and t.last_schedule_time is not None and latest_fire(schedule, now) > t.last_schedule_time:
        return Reason.SCHEDULE  # however many fires were missed, one run
    return None


def wake_for_schedule(ctx: Context, d: Draft) -> None:
    """Come back when the next training can be due; adopt a newly added schedule without firing it."""
    t = d.status.training
    if t is None:
        return
    schedule = schedule_of(ctx.spec)
    if schedule:
        if t.last_schedule_time is None:
            t.last_schedule_time = latest_fire(schedule, ctx.now)
        d.wake(next_fire(schedule, ctx.now) - ctx.now)
    if t.failures and t.retry_at is not None:
        d.wake(t.retry_at - ctx.now)


def start_training(ctx: Context, d: Draft, reason: str) -> None:
    """Record the intent (status first), then ask for the run; nothing starts when suspended or unrunnable."""
    spec, now, old = ctx.spec, ctx.now, d.status.training
    if spec.suspend:
        return
    if ctx.observed.blocker is not None:
        if d.condition(ConditionType.TRAINED, False, "SpecNotRunnable", ctx.observed.blocker):
            d.event(EventReason.SPEC_NOT_RUNNABLE, ctx.observed.blocker, warning=True)
        if d.status.stable is None:
            d.to(Phase.FAILED)
        return
    version = version_id(now)
    if old is not None and old.version is not None and old.version.startswith(version):
        # Decided within the same second as the last one: -2, -3 ... keep versions (and run names) unique.
        version = f"{version}-{len(old.version.split('-'))}"
    schedule = schedule_of(spec)
    d.status.training = TrainingStatus(
        job_name=training_run_name(ctx.name, version),
        version=version,
        started_at=now,
        reason=reason,
        failures=old.failures if old is not None else 0,
        last_schedule_time=latest_fire(schedule, now) if schedule else None,
        last_trigger=spec.training.trigger,
        spec_hash=training_spec_hash(spec),
        message=f"training {version} ({reason})",
    )
    d.to(Phase.TRAINING)
    d.condition(ConditionType.TRAINED, None, "Training", f"training {version} ({reason})")
    _ensure_run(ctx, d)
    d.event(EventReason.TRAINING_STARTED, f"training {version} ({reason}) as {d.status.training.job_name}")


def _ensure_run(ctx: Context, d: Draft) -> None:
    t = d.status.training
    assert t is not None
    assert t.job_name is not None
    assert t.version is not None
    d.act(StartTraining(t.job_name, t.version, stable_pin(d.status)))
    d.wake(POLL)


def training(ctx: Context, d: Draft) -> None:
    """Phase Training: wait for the run; a published version goes to validation, a failure backs off."""
    t = d.status.training
    if t is None or t.version is None:
        d.to(Phase.PENDING)
        return
    trained = ctx.observed.trained
    if trained is not None and trained.pin.version == t.version:
        e = trained.evidence
        t.finished_at, t.failures, t.retry_at = ctx.now, 0, None
        t.message = f"published {t.version}"
        d.status.candidate = CandidateStatus(
            version=t.version,
            uri=trained.pin.uri,
            manifest_sha256=trained.pin.manifest_sha256,
            trained_at=ctx.now,
            data=e.window,
            metrics=e.model,
            baseline_metrics=e.baseline,
            segments=e.segments[:200],
            reference_version=e.reference.version if e.reference is not None else None,
        )
        deviance = "-" if e.model.poisson_deviance is None else f"{e.model.poisson_deviance:.4g}"
        d.condition(ConditionType.TRAINED, True, "TrainingSucceeded", f"{t.version} published")
        d.event(
            EventReason.TRAINING_SUCCEEDED, f"{t.version} published; test deviance {deviance} on {e.model.rows} rows"
        )
        d.to(Phase.VALIDATING)
        return
    run = ctx.observed.training or RunObservation(RunState.MISSING)
    if run.state is RunState.SUCCEEDED and ctx.observed.store_error is not None:
        d.wake(POLL)  # published, perhaps, but the store refused to say: StoreReadable tells why; not a failure
    elif run.state is RunState.SUCCEEDED:
        _failed(ctx, d, f"run {t.job_name} succeeded but {t.version} is not in the store")
    elif run.state is RunState.FAILED:
        _failed(ctx, d, run.message or f"run {t.job_name} failed")
    elif (deadline := _deadline(ctx, t.started_at)) <= ctx.now:
        # Nothing waits forever: a SparkApplication has no deadline of its own, and a run that never starts
        # (suspended, unschedulable) would hold the phase.
        assert t.job_name is not None
        d.act(StopRun(t.job_name))
        _failed(ctx, d, f"run {t.job_name} did not finish within training.timeout {ctx.spec.training.timeout}")
    elif run.state is RunState.MISSING and not ctx.spec.suspend:
        _ensure_run(ctx, d)  # status says it started: (re)create it under the same name
    else:
        d.wake(min(POLL, deadline - ctx.now))


def _deadline(ctx: Context, started_at: datetime | None) -> datetime:
    return (started_at or ctx.now) + parse_duration(ctx.spec.training.timeout) + DEADLINE_GRACE


def _failed(ctx: Context, d: Draft, message: str) -> None:
    t = d.status.training
    assert t is not None
    assert t.version is not None
    t.failures += 1
    delay = retry_delay(t.failures)
    t.retry_at, t.finished_at, t.message = ctx.now + delay, ctx.now, message
    d.condition(ConditionType.TRAINED, False, "TrainingFailed", message)
    d.record(HistoryEntry(version=t.version, decision=ReleaseOutcome.FAILED, reason="TrainingFailed",
                          message=message, time=ctx.now))  # fmt: skip
    stable = d.status.stable
    keeps = f"; stable {stable.version} keeps serving" if stable is not None else ""
    d.event(EventReason.TRAINING_FAILED, f"{t.version}: {message}; retry in {delay}{keeps}", warning=True)
    d.to(Phase.SERVING if stable is not None else Phase.FAILED)
    d.wake(delay)
