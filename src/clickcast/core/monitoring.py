"""Quality tracking of the stable version: an evaluation run each `spec.monitoring.interval`, two detectors.

Purely computational. Each run measures the offer-days after the last one measured, and again the
`monitoring.lateClickDays` days before it (clicks arrive late: a day measured again replaces its entry); the daily
series is kept (bounded) in status and in full in the store (each run's report). The drop and erosion
detectors (clickcast.analysis.quality) set the Healthy condition; a transition emits one Event, and
with `autoRetrain` a degradation starts a training.
"""

from __future__ import annotations

from datetime import date, timedelta

from clickcast.analysis.evidence import EvaluationReport
from clickcast.analysis.quality import assess_quality, merge_daily
from clickcast.api.duration import parse_duration
from clickcast.api.roles import Role
from clickcast.api.status import ConditionType, DailyQuality, ModelVersionStatus, MonitoringStatus, QualityState
from clickcast.core import training
from clickcast.core.draft import Context, Draft
from clickcast.core.events import DEGRADED_REASON, EventReason
from clickcast.core.naming import quality_run_name
from clickcast.core.observed import RunState
from clickcast.core.plan import StartEvaluation
from clickcast.core.training import POLL

DEGRADED = (QualityState.DROP, QualityState.EROSION)


def monitor(ctx: Context, d: Draft) -> None:
    """Phase Serving: start the next quality evaluation when due, or take in the finished one."""
    stable, spec = d.status.stable, ctx.spec
    if stable is None or not spec.monitoring.enabled or not spec.serving.enabled or spec.suspend:
        return
    m = d.status.monitoring = d.status.monitoring or MonitoringStatus()
    interval = parse_duration(spec.monitoring.interval)
    run_name = quality_run_name(ctx.name, m.evaluations + 1, m.failures)
    if m.job_name is None:
        due = (m.last_evaluated_at or d.status.phase_since or ctx.now) + interval
        if ctx.now < due:
            d.wake(due - ctx.now)
            return
        m.job_name = run_name
        d.act(StartEvaluation(run_name, _after(m, spec.monitoring.late_click_days)))
        d.wake(POLL)
        return
    run, report, run_name = ctx.observed.evaluation, ctx.observed.evaluated, m.job_name
    error = None
    unreported = run is not None and run.state is RunState.SUCCEEDED and report is None
    asked = (m.last_evaluated_at or d.status.phase_since or ctx.now) + interval  # when this run was asked for
    if run is not None and run.state is RunState.FAILED:
        error = run.message or "the run failed"
    elif unreported and ctx.observed.store_error is not None:
        error = f"its report cannot be read: {ctx.observed.store_error}"
    elif unreported and ctx.now >= asked + interval:
        error = "succeeded, but no report in the store an interval later"
    if run is not None and run.state is RunState.SUCCEEDED and report is not None:
        m.failures = 0
        _take_in(ctx, d, m, stable, report)
        d.wake(interval)
    elif error is not None:
        # Measured nothing: say so and try again next interval, under a new name (the old one is the failed run).
        m.job_name, m.last_evaluated_at, m.failures = None, ctx.now, m.failures + 1
        d.event(EventReason.QUALITY_EVALUATION_FAILED, f"{run_name}: {error} ({m.failures} in a row)", warning=True)
        d.wake(interval)
    else:
        if run is None or run.state is RunState.MISSING:
            d.act(StartEvaluation(run_name, _after(m, spec.monitoring.late_click_days)))
        d.wake(POLL)


def _after(m: MonitoringStatus, late_days: int) -> date | None:
    """The day after which a run measures: `late_days` before the last day measured (the same while the run is
    asked for, so a run created again measures the same window)."""
    return None if m.evaluated_through is None else m.evaluated_through - timedelta(days=late_days)


def daily_quality(report: EvaluationReport, version: str, reference: float | None) -> list[DailyQuality]:
    """The stable version's days in an evaluation report."""
    days = []
    for entry in report.daily:
        if entry.model_version != version or entry.role is not Role.STABLE:
            continue
        deviance = entry.metrics.poisson_deviance
        ratio = deviance / reference if deviance is not None and reference else None
        days.append(DailyQuality(day=date.fromisoformat(entry.date), version=version, rows=entry.metrics.rows,
                                 deviance=deviance, ratio=ratio, calibration=entry.metrics.calibration))  # fmt: skip
    return days


def _take_in(ctx: Context, d: Draft, m: MonitoringStatus, stable: ModelVersionStatus,
             report: EvaluationReport) -> None:  # fmt: skip
    reference = stable.metrics.poisson_deviance if stable.metrics is not None else None
    m.reference_deviance = reference
    m.daily = merge_daily(m.daily, daily_quality(report, stable.version, reference))
    # Never backwards: a run that found no clicks after its look-back's first day reports an earlier `through`.
    m.evaluated_through = max(filter(None, (report.through, m.evaluated_through)), default=None)
    m.evaluations += 1
    m.job_name, m.last_evaluated_at = None, ctx.now
    before = m.state
    a = assess_quality(m.daily, reference, ctx.spec.monitoring, version=stable.version)
    m.state, m.deviance_ratio, m.cusum = a.state, a.deviance_ratio, a.cusum
    healthy = None if a.state is QualityState.UNKNOWN else a.state is QualityState.HEALTHY
    changed = d.condition(ConditionType.HEALTHY, healthy, a.reason, f"{stable.version}: {a.message}")
    if a.state in DEGRADED and (changed or before is not a.state):
        d.event(DEGRADED_REASON[a.state], f"{stable.version}: {a.message}", warning=True)
        if ctx.spec.monitoring.auto_retrain:
            training.start_training(ctx, d, training.Reason.QUALITY)
    elif a.state is QualityState.HEALTHY and before in DEGRADED:
        d.event(EventReason.QUALITY_RECOVERED, f"{stable.version}: {a.message}")
