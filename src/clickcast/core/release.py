"""From a trained candidate to a release: gates, canary, promotion, rollback, batch scoring. Purely computational."""

from __future__ import annotations

from datetime import timedelta

from clickcast.analysis.gates import check_gates, failed
from clickcast.api.duration import parse_duration
from clickcast.api.roles import Role
from clickcast.api.spec import AlgorithmName, PromotionMode
from clickcast.api.status import (
    CanaryStatus,
    CanarySums,
    CandidateStatus,
    ConditionType,
    HistoryEntry,
    ModelVersionStatus,
    MonitoringStatus,
    Phase,
    QualityState,
    ReleaseOutcome,
    ScoringStatus,
    Verdict,
)
from clickcast.api.traffic import Traffic
from clickcast.core.canary_analysis import analyse, max_duration_left, route_weight
from clickcast.core.conditions import condition
from clickcast.core.draft import Context, Draft
from clickcast.core.events import EventReason
from clickcast.core.naming import scoring_run_name
from clickcast.core.observed import RunObservation, RunState
from clickcast.core.plan import RecordPromotion, Retire, Route, StartScoring, VersionPin
from clickcast.core.traffic import stable_deploy
from clickcast.core.training import POLL, stable_pin


def _pin(c: CandidateStatus) -> VersionPin:
    assert c.uri is not None
    assert c.manifest_sha256 is not None
    return VersionPin(c.version, c.uri, c.manifest_sha256)


def _as_version(c: CandidateStatus) -> ModelVersionStatus:
    return ModelVersionStatus.model_validate(c.model_dump(include=set(ModelVersionStatus.model_fields)))


def _idle_phase(d: Draft) -> Phase:
    return Phase.SERVING if d.status.stable is not None else Phase.FAILED


def validating(ctx: Context, d: Draft) -> None:
    """Phase Validating: check every gate; pass → canary (or straight to stable / scoring), fail → rejected."""
    c, trained = d.status.candidate, ctx.observed.trained
    if c is None:
        d.to(_idle_phase(d))
        return
    if trained is None or trained.pin.version != c.version:
        d.wake(POLL)  # its evidence is read from the store; wait until the shell can read it again
        return
    stable = d.status.stable
    results = check_gates(
        ctx.spec.validation,
        trained.evidence,
        stable_version=stable.version if stable is not None else None,
        model_is_baseline=ctx.spec.algorithm.name is AlgorithmName.GLM,
    )
    c.gates = results[:200]
    bad = failed(results)
    if bad:
        message = "; ".join(f"{g.name}: {g.message}" for g in bad)
        d.condition(ConditionType.VALIDATED, False, "GatesFailed", message)
        d.record(HistoryEntry(version=c.version, decision=ReleaseOutcome.REJECTED, reason="GatesFailed",
                              message=message, time=ctx.now, metrics=c.metrics, gates=bad[:50]))  # fmt: skip
        keeps = f"; stable {stable.version} keeps serving" if stable is not None else ""
        d.event(EventReason.CANDIDATE_REJECTED,
                f"{c.version} failed {len(bad)} of {len(results)} gates: {message}{keeps}", warning=True)  # fmt: skip
        d.status.candidate = None
        d.to(_idle_phase(d))
        return
    if d.condition(ConditionType.VALIDATED, True, "GatesPassed", f"{c.version} passed {len(results)} gates"):
        d.event(EventReason.VALIDATED, f"{c.version} passed all {len(results)} gates")
    if ctx.spec.suspend:
        return  # validated, but nothing new starts until spec.suspend is cleared
    c.rollout_started_at = ctx.now
    if not ctx.spec.serving.enabled:
        _start_scoring(ctx, d, c)
    elif stable is None:
        start_promotion(ctx, d, f"{c.version} is the first version")  # nothing to canary against
    elif ctx.spec.promotion.mode is PromotionMode.MANUAL and ctx.spec.promotion.approved_version == stable.version:
        rollback(ctx, d, "RolledBackByUser", f"approvedVersion names the stable version {stable.version}")
    else:
        d.to(Phase.CANARY)
        d.act(ctx.traffic.canary(ctx.spec, _pin(c), 0))
        d.event(EventReason.CANARY_STARTED, f"deploying {c.version} as the canary beside stable {stable.version}")
        d.wake(POLL)


def _ready_deadline(ctx: Context, c: CandidateStatus) -> timedelta:
    """Time left for the candidate's workload to become ready."""
    started = c.rollout_started_at or ctx.now
    return started + parse_duration(ctx.spec.serving.ready_timeout) - ctx.now


def canary(ctx: Context, d: Draft) -> None:
    """Phases Canary and AwaitingApproval: the candidate serves beside stable until promoted or rolled back."""
    c, stable, promotion = d.status.candidate, d.status.stable, ctx.spec.promotion
    if c is None or stable is None:
        d.to(_idle_phase(d))
        return
    manual = promotion.mode is PromotionMode.MANUAL
    if manual and promotion.approved_version == stable.version:
        rollback(ctx, d, "RolledBackByUser", f"approvedVersion names the stable version {stable.version}")
        return
    pin = _pin(c)
    state = d.status.canary if d.status.canary is not None and d.status.canary.version == c.version else None
    deploy = ctx.traffic.canary(ctx.spec, pin, state.step if state is not None else 0)
    rollout = ctx.observed.rollouts.get(Role.CANARY)
    if state is None:
        if rollout is None or not rollout.complete(pin):
            left = _ready_deadline(ctx, c)
            if left <= timedelta(0):
                rollback(ctx, d, "CandidateNotReady", f"not ready within {ctx.spec.serving.ready_timeout}")
                return
            if (rollout is None or not rollout.matches(deploy)) and not ctx.spec.suspend:
                d.act(deploy)
            d.wake(min(POLL, left))
            return
        d.status.canary = state = CanaryStatus(
            version=c.version, started_at=ctx.now, weight=ctx.traffic.weight(ctx.spec, 0)
        )
        d.event(EventReason.CANARY_READY, f"{c.version} is ready beside stable {stable.version}" + (
            " and sees a copy of its traffic" if ctx.traffic.stable_traffic is Traffic.MIRROR
            else f" with {state.weight}% of the traffic"))  # fmt: skip
    elif (rollout is None or not rollout.matches(deploy)) and not ctx.spec.suspend:
        d.act(deploy)  # the next step's replicas, or a repair
    if ctx.traffic.stable_traffic is not Traffic.OWN and not ctx.spec.suspend:
        _stable_beside_canary(ctx, d)
    if manual and promotion.approved_version == c.version:
        if not ctx.spec.suspend:
            start_promotion(ctx, d, f"{c.version} approved (spec.promotion.approvedVersion)")
        return
    analyse(ctx, d, c, state, stable.version)
    if state.verdict is Verdict.RUNNING:
        _route(ctx, d, route_weight(ctx, state))  # after the look: it may have moved to the next step
    if state.verdict is Verdict.PASS:
        if manual:
            if d.status.phase is not Phase.AWAITING_APPROVAL:
                d.to(Phase.AWAITING_APPROVAL)
                d.event(
                    EventReason.AWAITING_APPROVAL, f"{c.version} passed its canary: set approvedVersion to promote it"
                )
        elif not ctx.spec.suspend:
            start_promotion(ctx, d, f"{c.version} passed its canary")
        return
    if state.verdict is not Verdict.RUNNING:
        _verdict_rollback(ctx, d, c, state, stable.version)
        return
    left = max_duration_left(ctx, state)
    if left <= timedelta(0) and d.status.phase is Phase.CANARY:
        state.verdict = Verdict.INCONCLUSIVE
        rollback(ctx, d, "CanaryInconclusive", f"no verdict within maxDuration {ctx.spec.canary.max_duration}")
        return
    d.wake(min(left, parse_duration(ctx.spec.canary.interval)) if left > timedelta(0) else POLL)


def _verdict_rollback(ctx: Context, d: Draft, c: CandidateStatus, state: CanaryStatus, stable: str) -> None:
    """Fail, Inconclusive or Error: roll back, saying why."""
    if state.verdict is Verdict.FAIL:
        look = state.looks[-1] if state.looks else None
        why = look.message if look is not None and look.message else "worse than stable on real clicks"
        rollback(ctx, d, "CanaryFailed", f"{c.version} failed its canary against {stable}: {why}")
    elif state.verdict is Verdict.INCONCLUSIVE:
        rollback(ctx, d, "CanaryInconclusive", f"no verdict after {state.analyses} looks")
    else:
        limit = ctx.spec.canary.consecutive_error_limit
        rollback(ctx, d, "CanaryErrored", f"{state.consecutive_errors} evaluation runs in a row ended in an error "
                 f"(consecutiveErrorLimit {limit}); the last: {state.last_error}")  # fmt: skip


def _route(ctx: Context, d: Draft, weight: int) -> None:
    """With spec.canary.gateway: the HTTPRoute gives the canary `weight` percent."""
    if ctx.spec.canary.gateway is not None and ctx.observed.route_weight != weight and not ctx.spec.suspend:
        d.act(Route(weight))


def _stable_beside_canary(ctx: Context, d: Draft) -> None:
    """A mode that changes stable's traffic (shadow: it mirrors to the canary): a rolling update of stable."""
    pin = stable_pin(d.status)
    rollout = ctx.observed.rollouts.get(Role.STABLE)
    beside = stable_deploy(ctx.spec, pin, ctx.traffic.stable_traffic) if pin is not None else None
    if beside is not None and (rollout is None or not rollout.matches(beside)):
        d.act(beside)


def rollback(
    ctx: Context, d: Draft, reason: str, message: str, *, event: EventReason = EventReason.ROLLED_BACK
) -> None:
    """Remove the candidate; the stable version was never touched."""
    c, stable = d.status.candidate, d.status.stable
    assert c is not None
    _route(ctx, d, 0)  # every request to stable before the canary's pods go
    d.act(Retire(Role.CANARY))
    d.condition(ConditionType.PROMOTED, False, reason, f"{c.version}: {message}")
    d.record(HistoryEntry(version=c.version, decision=ReleaseOutcome.ROLLED_BACK, reason=reason,
                          message=message, time=ctx.now, metrics=c.metrics, canary=_ended_canary(d)))  # fmt: skip
    keeps = f"; stable {stable.version} keeps serving" if stable is not None else ""
    d.event(event, f"{c.version} rolled back: {message}{keeps}", warning=True)
    d.status.candidate = None
    d.status.canary = None
    d.to(_idle_phase(d))


def start_promotion(ctx: Context, d: Draft, why: str) -> None:
    c = d.status.candidate
    assert c is not None
    c.rollout_started_at = c.promotion_decided_at = ctx.now
    d.to(Phase.PROMOTING)
    if ctx.spec.promotion.gitops is not None:
        d.event(EventReason.PROMOTION_STARTED, f"{why}: recording it in Git before stable moves to {c.version}")
        _record_in_git(ctx, d, c)
        return
    d.act(stable_deploy(ctx.spec, _pin(c)))
    d.event(EventReason.PROMOTION_STARTED, f"{why}: rolling the stable Deployment to {c.version}")
    d.wake(POLL)


def _promotion_reason(ctx: Context, old: ModelVersionStatus | None) -> str:
    if old is None:
        return "FirstVersion"
    return "Approved" if ctx.spec.promotion.mode is PromotionMode.MANUAL else "CanaryPassed"


def _record_in_git(ctx: Context, d: Draft, c: CandidateStatus) -> bool:
    """GitOps: is the promotion recorded (and, in branch mode, merged)? If not, ask for it and say why not.

    Stable does not move before that, so a failed push never leaves Git and the cluster disagreeing.
    """
    git, gitops = ctx.observed.git, ctx.spec.promotion.gitops
    assert gitops is not None
    if git is not None and git.commit is not None and git.merged:
        c.git_commit = git.commit
        d.event(
            EventReason.PROMOTION_RECORDED,
            f"{c.version}: commit {git.commit[:12]} on {gitops.branch} of {gitops.repo_url}",
        )
        return True
    if git is not None and git.error and git.refused:
        # A remote the settings refuse stays refused: waiting out promotion.timeout would only hold the canary.
        message = f"Git refused to record it (fix spec.promotion.gitops or its Secret, then retrain): {git.error}"
        rollback(ctx, d, "GitOpsRefused", message, event=EventReason.GITOPS_REFUSED)
        return False
    # Checked whatever Git answered (an error, an unmerged branch, nothing yet): nothing waits forever.
    left = (c.promotion_decided_at or ctx.now) + parse_duration(ctx.spec.promotion.timeout) - ctx.now
    if left <= timedelta(0):
        _promotion_timed_out(ctx, d, c)
        return False
    if git is not None and git.error:
        if d.condition(ConditionType.PROMOTED, False, "GitOpsFailed", f"{c.version}: {git.error}"):
            d.event(
                EventReason.GITOPS_FAILED,
                f"{c.version} is not promoted until Git records it: {git.error}",
                warning=True,
            )
    elif git is not None and git.commit is not None:
        message = f"{c.version}: review branch {git.branch} pushed; waiting for it to be merged into {gitops.branch}"
        if d.condition(ConditionType.PROMOTED, False, "AwaitingMerge", message):
            d.event(EventReason.AWAITING_MERGE, message)
    if not ctx.spec.suspend:
        d.act(RecordPromotion(c.model_copy(deep=True), d.status.stable, d.status.canary,
                              _promotion_reason(ctx, d.status.stable), c.promotion_decided_at or ctx.now))  # fmt: skip
    d.wake(min(POLL, left))
    return False


def _promotion_timed_out(ctx: Context, d: Draft, c: CandidateStatus) -> None:
    """Git did not record the promotion in time: the candidate is not promoted; stable never moved."""
    git, gitops = ctx.observed.git, ctx.spec.promotion.gitops
    assert gitops is not None
    if git is not None and git.error:
        why = f"the last attempt failed: {git.error}"
    elif git is not None and git.commit is not None:
        why = f"review branch {git.branch} was not merged into {gitops.branch}"
    else:
        why = "Git did not answer"
    message = f"not recorded in Git within promotion.timeout {ctx.spec.promotion.timeout}: {why}"
    rollback(ctx, d, "PromotionTimedOut", message, event=EventReason.PROMOTION_TIMED_OUT)


def promoting(ctx: Context, d: Draft) -> None:
    """Phase Promoting: roll stable to the candidate (never below its ready replicas), then retire the canary."""
    c, old = d.status.candidate, d.status.stable
    if c is None:
        d.to(_idle_phase(d))
        return
    if ctx.spec.promotion.gitops is not None and c.git_commit is None:
        if not _record_in_git(ctx, d, c):
            return
        c.rollout_started_at = ctx.now  # stable's readiness is awaited from now, not from the decision
    pin = _pin(c)
    rollout = ctx.observed.rollouts.get(Role.STABLE)
    if rollout is not None and rollout.complete(pin) and rollout.matches(stable_deploy(ctx.spec, pin)):
        reason = _promotion_reason(ctx, old)
        d.status.stable = _as_version(c)
        d.record(HistoryEntry(version=c.version, decision=ReleaseOutcome.PROMOTED, reason=reason,
                              message=_replaced(d, old), time=ctx.now, metrics=c.metrics,
                              git_commit=c.git_commit, canary=_ended_canary(d)))  # fmt: skip
        new_stable(d, c.version)
        d.condition(ConditionType.PROMOTED, True, reason, f"{c.version} serves as stable")
        d.event(EventReason.PROMOTED, f"{c.version} serves as stable" + (f" (was {old.version})" if old else ""))
        d.status.candidate = None
        d.status.canary = None
        d.to(Phase.SERVING)
        _route(ctx, d, 0)  # before the canary's pods go
        if Role.CANARY in ctx.observed.rollouts:
            d.act(Retire(Role.CANARY))
        return
    if _ready_deadline(ctx, c) <= timedelta(0):
        _promotion_not_ready(ctx, d, c)
        return
    if rollout is None or not rollout.matches(stable_deploy(ctx.spec, pin)):
        d.act(stable_deploy(ctx.spec, pin))
    d.wake(POLL)


def _ended_canary(d: Draft) -> CanaryStatus | None:
    """The canary as its release decision found it, kept in the history entry (the live one is cleared).

    Its sums stay behind: they only serve the running test, and status must stay small.
    """
    c = d.status.canary
    return (
        c.model_copy(update={"sums": CanarySums(), "recent_days": [], "job_name": None}, deep=True)
        if c is not None
        else None
    )


def _replaced(d: Draft, old: ModelVersionStatus | None) -> str:
    """The promotion's history message: which version it replaced and that version's last quality state."""
    if old is None:
        return "first version"
    m = d.status.monitoring
    quality = f" (its quality: {m.state})" if m is not None and m.state is not QualityState.UNKNOWN else ""
    return f"replaced {old.version}{quality}"


def new_stable(d: Draft, version: str) -> None:
    """A new stable version's quality is unknown until it is measured: the series and detectors start over.

    What the replaced version's quality was stays in the history entry and in its days of `monitoring.daily`
    (each day names its version); the run counter and the last day measured carry on, so run names stay unique
    and no day is measured twice.
    """
    m = d.status.monitoring
    if m is not None:
        d.status.monitoring = MonitoringStatus(
            evaluations=m.evaluations,
            job_name=m.job_name,
            failures=m.failures,
            evaluated_through=m.evaluated_through,
            last_evaluated_at=m.last_evaluated_at,
            daily=m.daily,
        )
    if condition(d.status.conditions, ConditionType.HEALTHY) is not None:
        d.condition(ConditionType.HEALTHY, None, "NewStable", f"{version}: not measured on real clicks yet")


def _promotion_not_ready(ctx: Context, d: Draft, c: CandidateStatus) -> None:
    """The new stable pods never became ready: go back to the old version (the rollout kept it serving)."""
    message = f"{c.version} not ready within {ctx.spec.serving.ready_timeout} as stable"
    previous = stable_pin(d.status)
    if previous is not None:
        d.act(stable_deploy(ctx.spec, previous))
    else:
        d.act(Retire(Role.STABLE))
    outcome = ReleaseOutcome.ROLLED_BACK if previous is not None else ReleaseOutcome.FAILED
    d.record(HistoryEntry(version=c.version, decision=outcome, reason="PromotionNotReady", message=message,
                          time=ctx.now, metrics=c.metrics, canary=_ended_canary(d)))  # fmt: skip
    d.condition(ConditionType.PROMOTED, False, "PromotionNotReady", message)
    d.event(EventReason.ROLLED_BACK, message, warning=True)
    _route(ctx, d, 0)
    d.act(Retire(Role.CANARY))
    d.status.candidate = None
    d.status.canary = None
    d.to(_idle_phase(d))


def _start_scoring(ctx: Context, d: Draft, c: CandidateStatus) -> None:
    assert ctx.spec.scoring is not None  # batch mode requires it (API rule)
    output = f"{ctx.spec.scoring.output_url.rstrip('/')}/{c.version}"
    d.status.scoring = ScoringStatus(
        job_name=scoring_run_name(ctx.name, c.version), version=c.version, output=output, started_at=ctx.now
    )
    d.to(Phase.SCORING)
    d.act(StartScoring(d.status.scoring.job_name, _pin(c), output))
    d.event(EventReason.SCORING_STARTED, f"{c.version} scores {ctx.spec.scoring.data_url} into {output}")
    d.wake(POLL)


def scoring(ctx: Context, d: Draft) -> None:
    """Phase Scoring (batch mode): the validated version scores; success makes it the stable version."""
    c, s = d.status.candidate, d.status.scoring
    if c is None or s is None:
        d.to(_idle_phase(d))
        return
    run = ctx.observed.scoring or RunObservation(RunState.MISSING)
    if run.state is RunState.SUCCEEDED:
        old = d.status.stable
        s.finished_at, s.message = ctx.now, f"scored into {s.output}"
        d.status.stable = _as_version(c)
        d.record(HistoryEntry(version=c.version, decision=ReleaseOutcome.PROMOTED, reason="Scored",
                              message=f"predictions in {s.output}", time=ctx.now, metrics=c.metrics))  # fmt: skip
        new_stable(d, c.version)
        d.condition(ConditionType.PROMOTED, True, "Scored", f"{c.version} scored into {s.output}")
        d.event(
            EventReason.SCORED, f"{c.version} scored into {s.output}" + (f" (previous {old.version})" if old else "")
        )
        d.status.candidate = None
        d.to(Phase.SERVING)
    elif run.state is RunState.FAILED:
        message = run.message or f"run {s.job_name} failed"
        s.finished_at, s.message = ctx.now, message
        d.record(HistoryEntry(version=c.version, decision=ReleaseOutcome.FAILED, reason="ScoringFailed",
                              message=message, time=ctx.now, metrics=c.metrics))  # fmt: skip
        d.condition(ConditionType.PROMOTED, False, "ScoringFailed", message)
        d.event(EventReason.SCORING_FAILED, f"{c.version}: {message}", warning=True)
        d.status.candidate = None
        d.to(_idle_phase(d))
    elif run.state is RunState.MISSING and not ctx.spec.suspend:
        d.act(StartScoring(s.job_name, _pin(c), s.output))
        d.wake(POLL)
    else:
        d.wake(POLL)
