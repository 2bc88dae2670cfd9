"""The canary's analyses: one evaluation run per `spec.canary.interval`, its evidence added to the test.

Purely computational. Each look adds the offer-days the previous looks did not see (status keeps the
test's sufficient statistics and the last day counted), and measures again the `canary.lateClickDays` days before
them, whose sums it replaces (late clicks); so an operator restarted mid-canary continues the same test, no
offer-day is counted twice, and a run's evidence is applied exactly once: the run is named after its look, and the
status that records its result (with the look counted) is written before anything else happens.
"""

from __future__ import annotations

from datetime import date, timedelta

from clickcast.analysis.evidence import CanaryComparison, Comparison, EvaluationReport
from clickcast.analysis.sequential import Assessment, TestSettings, add, assess, subtract
from clickcast.api.duration import parse_duration
from clickcast.api.roles import Role
from clickcast.api.status import CanaryDaySums, CanaryLook, CanaryStatus, CanarySums, CandidateStatus, Verdict
from clickcast.core.draft import Context, Draft
from clickcast.core.events import EventReason
from clickcast.core.naming import canary_run_name
from clickcast.core.observed import RunState
from clickcast.core.plan import StartEvaluation
from clickcast.core.training import POLL

LOOKS_KEPT = 100


def analyse(ctx: Context, d: Draft, c: CandidateStatus, state: CanaryStatus, stable_version: str) -> None:
    """Start the next look when its interval has passed, or apply the finished one's evidence."""
    if state.verdict is not Verdict.RUNNING:
        return
    paired = ctx.traffic.paired
    compare = Comparison(stable_version, c.version, paired)
    if state.job_name is None:
        due = (state.last_analysis_at or state.started_at or ctx.now) + parse_duration(ctx.spec.canary.interval)
        if ctx.now < due:
            d.wake(due - ctx.now)
        elif not ctx.spec.suspend:
            state.job_name = canary_run_name(ctx.name, c.version, state.analyses + 1, state.consecutive_errors)
            d.act(StartEvaluation(state.job_name, _after(ctx, state), compare))
            d.wake(POLL)
        return
    run, report, run_name = ctx.observed.evaluation, ctx.observed.evaluated, state.job_name
    start = StartEvaluation(run_name, _after(ctx, state), compare)
    interval = parse_duration(ctx.spec.canary.interval)
    asked = (state.last_analysis_at or state.started_at or ctx.now) + interval  # when this look's run was asked for
    succeeded = run is not None and run.state is RunState.SUCCEEDED
    if succeeded and report is not None:
        _apply(ctx, d, state, report, paired)
    elif run is not None and run.state is RunState.FAILED:
        _errored(ctx, d, state, f"{run_name}: {run.message or 'the evaluation run failed'}")
    elif succeeded and ctx.observed.store_error is not None:
        _errored(ctx, d, state, f"{run_name}: its report cannot be read: {ctx.observed.store_error}")
    elif succeeded and ctx.now >= asked + interval:
        # A report written where the operator does not look (spec.store.url changed under the run): not awaited.
        _errored(ctx, d, state, f"{run_name}: succeeded, but no report in the store an interval later")
    else:
        if (run is None or run.state is RunState.MISSING) and not ctx.spec.suspend:
            d.act(start)  # created again if it vanished (deterministic name, same window)
        d.wake(POLL)


def _errored(ctx: Context, d: Draft, state: CanaryStatus, message: str) -> None:
    """The look's run ended in an error (Argo Rollouts' Error outcome): evidence neither way, but counted.

    The next attempt comes at the next interval under a new name; more errors in a row than
    `consecutiveErrorLimit` end the canary (verdict Error: the caller rolls back).
    """
    state.job_name, state.last_analysis_at = None, ctx.now
    state.consecutive_errors += 1
    state.last_error = message[:1000]
    limit = ctx.spec.canary.consecutive_error_limit
    if state.consecutive_errors > limit:
        state.verdict = Verdict.ERROR
        return
    d.event(EventReason.ANALYSIS_FAILED, f"{message} (error {state.consecutive_errors} in a row; the canary is "
            f"rolled back after {limit + 1})", warning=True)  # fmt: skip
    d.wake(parse_duration(ctx.spec.canary.interval))


def _after(ctx: Context, state: CanaryStatus) -> date | None:
    """The day after which a look measures: `lateClickDays` before the last day counted (the same while the look's
    run is asked for, so a run created again measures the same window)."""
    if state.evidence_through is None:
        return None
    return state.evidence_through - timedelta(days=ctx.spec.canary.late_click_days)


def _take_in(ctx: Context, state: CanaryStatus, comparison: CanaryComparison | None) -> int:
    """Add a look's evidence to the test; returns how many of the candidate's offer-days it newly counted.

    A day the test already holds in `recentDays` is replaced by its new measurement; a day counted before and no
    longer held (older than the look-back, or counted before `recentDays` existed) is left as it was counted.
    """
    if comparison is None:
        return 0
    if not comparison.daily:  # a report without days: all of it is new
        state.sums = add(state.sums, comparison.sums)
        return comparison.sums.candidate_n
    held = {day.day: day.sums for day in state.recent_days}
    counted = state.evidence_through
    newly = 0
    for day in comparison.daily:
        if day.day in held:
            state.sums = subtract(add(state.sums, day.sums), held[day.day])
            newly += day.sums.candidate_n - held[day.day].candidate_n
        elif counted is None or day.day > counted:
            state.sums = add(state.sums, day.sums)
            newly += day.sums.candidate_n
        else:
            continue
        held[day.day] = day.sums
    through = max(filter(None, (counted, *(day.day for day in comparison.daily))), default=None)
    if through is not None:
        first = through - timedelta(days=ctx.spec.canary.late_click_days)
        state.recent_days = [CanaryDaySums(day=k, sums=v) for k, v in sorted(held.items()) if k > first][-15:]
    return newly


def _apply(ctx: Context, d: Draft, state: CanaryStatus, report: EvaluationReport, paired: bool) -> None:
    state.consecutive_errors, state.last_error = 0, None
    newly = _take_in(ctx, state, report.comparison)
    state.evidence_through = max(filter(None, (report.through, state.evidence_through)), default=None)
    state.analyses += 1
    state.job_name, state.last_analysis_at = None, ctx.now
    a = assess(state.sums, TestSettings.from_canary(ctx.spec.canary), paired=paired, looks=state.analyses)
    breaches = [*(guardrails(ctx, state.sums) if newly else []), *margin_guardrail(ctx, report, paired),
                *service_guardrails(ctx)]  # fmt: skip
    quiet = "no new offer-days with real clicks (not a failure)" if not newly else ""
    message = "; ".join([*breaches, *filter(None, [quiet, a.message])])
    verdict = a.verdict
    if breaches:
        state.failed_checks += 1
        if state.failed_checks > ctx.spec.canary.failure_limit:
            verdict = Verdict.FAIL
    _record(ctx, d, state, a, verdict=verdict, message=message)
    if verdict is Verdict.RUNNING and not breaches:
        _next_step(ctx, d, state)


def guardrails(ctx: Context, sums: CanarySums) -> list[str]:
    """Breaches of the bounds the spec sets beside the test (once the candidate has minObservations)."""
    if sums.candidate_n < ctx.spec.canary.min_observations or sums.candidate_actual <= 0:
        return []
    limits = ctx.spec.validation.absolute
    calibration = sums.candidate_predicted / sums.candidate_actual
    if not limits.min_calibration <= calibration <= limits.max_calibration:
        bounds = f"[{limits.min_calibration}, {limits.max_calibration}]"
        return [f"calibration {calibration:.3f} outside {bounds} on {sums.candidate_n} offer-days"]
    return []


MARGIN_MIN_ROWS = 100
"""Offer-days of the candidate a look needs before its margin is judged (fewer: too noisy to act on)."""


def margin_guardrail(ctx: Context, report: EvaluationReport, paired: bool) -> list[str]:
    """The candidate's placement margin on this look's offer-days against `validation.absolute.minMargin`."""
    floor = ctx.spec.validation.absolute.min_margin
    comparison = report.comparison
    if floor is None or comparison is None:
        return []
    measured = report.version(comparison.candidate_version, Role.SHADOW if paired else Role.CANARY)
    if measured is None or measured.metrics.margin is None or measured.metrics.rows < MARGIN_MIN_ROWS:
        return []
    if measured.metrics.margin < floor:
        return [f"margin {measured.metrics.margin:.2f} per 1000 offer-days below minMargin {floor} "
                f"on {measured.metrics.rows} offer-days"]  # fmt: skip
    return []


def service_guardrails(ctx: Context) -> list[str]:
    """Breaches of the candidate's error rate and latency bounds, from its own metrics (no data: none)."""
    health, canary = ctx.observed.canary_health, ctx.spec.canary
    if health is None or health.requests < canary.min_requests:
        return []
    breaches = []
    rate = health.server_errors / health.requests
    if rate > canary.max_error_rate:
        breaches.append(f"error rate {rate:.2%} above {canary.max_error_rate:.2%} over {health.requests:.0f} requests")
    if health.p99_seconds is not None and health.p99_seconds > canary.max_p99_latency_seconds:
        breaches.append(f"p99 latency {health.p99_seconds * 1000:.0f}ms above "
                        f"{canary.max_p99_latency_seconds * 1000:.0f}ms")  # fmt: skip
    return breaches


def _record(ctx: Context, d: Draft, state: CanaryStatus, a: Assessment, *, verdict: Verdict, message: str) -> None:
    state.stable_observations, state.candidate_observations = state.sums.stable_n, state.sums.candidate_n
    state.deviance_ratio, state.ci_low, state.ci_high = a.deviance_ratio, a.ratio_low, a.ratio_high
    state.verdict = verdict
    look = CanaryLook(
        look=state.analyses, time=ctx.now, evidence_through=state.evidence_through, weight=state.weight,
        stable_observations=state.stable_observations, candidate_observations=state.candidate_observations,
        deviance_ratio=a.deviance_ratio, ratio_low=a.ratio_low, ratio_high=a.ratio_high, verdict=verdict,
        message=message,
    )  # fmt: skip
    state.looks = [*state.looks, look][-LOOKS_KEPT:]
    bounds = "" if a.ratio_low is None or a.ratio_high is None else f" [{a.ratio_low:.4f}, {a.ratio_high:.4f}]"
    ratio = "n/a" if a.deviance_ratio is None else f"{a.deviance_ratio:.4f}"
    d.event(
        EventReason.CANARY_ANALYSIS,
        f"look {state.analyses}: deviance ratio {ratio}{bounds} on {state.candidate_observations} offer-days, "
        f"margin {ctx.spec.canary.non_inferiority_margin}: {verdict}" + (f" ({message})" if message else ""),
        warning=verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE) or (state.failed_checks > 0 and bool(message)),
    )


def _next_step(ctx: Context, d: Draft, state: CanaryStatus) -> None:
    """A stepped mode: a healthy look without a verdict moves to the next weight."""
    steps = ctx.spec.canary.steps
    if not ctx.traffic.stepped or state.step + 1 >= len(steps):
        return
    state.step += 1
    state.weight = ctx.traffic.weight(ctx.spec, state.step)
    d.event(
        EventReason.CANARY_WEIGHT,
        f"step {state.step + 1}/{len(steps)}: weight {steps[state.step]}% "
        f"({ctx.traffic.step_detail(ctx.spec, state.step)})",
    )


def max_duration_left(ctx: Context, state: CanaryStatus) -> timedelta:
    started = state.started_at or ctx.now
    return started + parse_duration(ctx.spec.canary.max_duration) - ctx.now


def route_weight(ctx: Context, state: CanaryStatus | None) -> int:
    """The canary's weight in the HTTPRoute: its step's once it is ready, else none."""
    return 0 if state is None else ctx.traffic.route(ctx.spec, state.step)
