"""The canary's analyses in the lifecycle core: looks, evidence counted once, steps, guardrails, restarts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from clickcast.api.roles import Role
from clickcast.api.status import CanaryStatus, ClickModelStatus, Phase, Verdict
from clickcast.api.traffic import Traffic
from clickcast.core import Comparison, Deploy, Observed, Retire, RunObservation, RunState, StartEvaluation, decide
from tests.unit.core.core_world import NAME, NOW, World, canary_sums, complete, drive, pin, report, spec
from tests.unit.core.test_core_decide import V1, V2, canary_status

pytestmark = pytest.mark.unit

SHADOW = {"canary.mode": "shadow", "canary.minObservations": 500}
SPLIT = {"canary.mode": "split", "canary.steps": [10, 25, 50], "canary.minObservations": 500,
         "serving.replicas": 3}  # fmt: skip
INTERVAL = timedelta(minutes=10)
FIRST_DAY = date(2026, 11, 20)


def running(**extra: object) -> ClickModelStatus:
    state = CanaryStatus(version=V2, started_at=NOW, **extra)  # type: ignore[arg-type]
    return canary_status(canary=state)


def shadow_rollouts(mirror: bool = True) -> Observed:
    return Observed(
        rollouts={
            Role.STABLE: complete(pin(V1), traffic=Traffic.MIRROR if mirror else Traffic.OWN),
            Role.CANARY: complete(pin(V2), 1),
        }
    )


def test_shadow_mode_mirrors_stable_to_the_canary_and_looks_each_interval() -> None:
    s = spec(**SHADOW)
    plan = decide(NAME, s, running(), shadow_rollouts(mirror=False), NOW)
    assert plan.actions == (
        Deploy(Role.STABLE, pin(V1), replicas=2, traffic=Traffic.MIRROR),
    )  # a rolling update of stable
    assert plan.requeue_after == INTERVAL
    look = decide(NAME, s, running(), shadow_rollouts(), NOW + INTERVAL)
    name = f"{NAME}-canary-{V2}-1"
    assert look.actions == (StartEvaluation(name, None, Comparison(V1, V2, paired=True)),)
    assert look.status.canary is not None and look.status.canary.job_name == name
    # Still running: asks for nothing new; vanished: the same run again (same name, same window).
    busy = Observed(rollouts=shadow_rollouts().rollouts, evaluation=RunObservation(RunState.RUNNING))
    wait = decide(NAME, s, look.status, busy, NOW + INTERVAL)
    assert wait.actions == ()
    gone = Observed(rollouts=shadow_rollouts().rollouts, evaluation=RunObservation(RunState.MISSING))
    assert decide(NAME, s, look.status, gone, NOW + INTERVAL).actions == look.actions


def test_each_look_adds_only_its_new_evidence_and_a_restart_continues_the_same_test() -> None:
    s = spec(**SHADOW)
    status = running(job_name=f"{NAME}-canary-{V2}-1")
    done = Observed(rollouts=shadow_rollouts().rollouts, evaluation=RunObservation(RunState.SUCCEEDED),
                    evaluated=report(canary_sums(300, 1.0, paired=True), FIRST_DAY, paired=True))  # fmt: skip
    first = decide(NAME, s, status, done, NOW + INTERVAL)
    c = first.status.canary
    assert c is not None
    assert (c.analyses, c.job_name, c.evidence_through, c.sums.pairs) == (1, None, FIRST_DAY, 300)
    assert c.verdict is Verdict.RUNNING and len(c.looks) == 1  # 300 < minObservations 500
    assert "CanaryAnalysis" in [e.reason for e in first.events]
    # The same observation again (a restarted operator reading the status it wrote): nothing is added twice.
    again = decide(NAME, s, first.status, done, NOW + INTERVAL)
    assert again.status.canary == c
    # The next look asks for the days after the last one counted, and again the 2 days before it (late clicks).
    second = decide(NAME, s, first.status, shadow_rollouts(), NOW + 2 * INTERVAL)
    after = FIRST_DAY - timedelta(days=2)
    assert second.actions == (StartEvaluation(f"{NAME}-canary-{V2}-2", after, Comparison(V1, V2, True)),)


def test_a_day_measured_again_replaces_its_sums_and_a_day_past_the_look_back_stays_as_counted() -> None:
    s = spec(**(SHADOW | {"canary.minObservations": 5000}))
    day1, day2, day3 = FIRST_DAY, FIRST_DAY + timedelta(days=1), FIRST_DAY + timedelta(days=2)

    def look(status: ClickModelStatus, n: int, days: dict[date, int]) -> ClickModelStatus:
        daily = {day: canary_sums(rows, 1.0, paired=True) for day, rows in days.items()}
        total = canary_sums(sum(days.values()), 1.0, paired=True)
        running_look = status.model_copy(update={"canary": status.canary.model_copy(  # type: ignore[union-attr]
            update={"job_name": f"{NAME}-canary-{V2}-{n}"})}, deep=True)  # fmt: skip
        seen = Observed(rollouts=shadow_rollouts().rollouts, evaluation=RunObservation(RunState.SUCCEEDED),
                        evaluated=report(total, max(days), paired=True, daily=daily))  # fmt: skip
        return decide(NAME, s, running_look, seen, NOW + n * INTERVAL).status

    first = look(running(), 1, {day1: 300})
    # Late clicks: day 1 now has 400 offer-days, day 2 is new: 700 in all, not 1000.
    second = look(first, 2, {day1: 400, day2: 300})
    c = second.canary
    assert c is not None and (c.sums.pairs, c.sums.candidate_n, c.evidence_through) == (700, 700, day2)
    assert [(d.day, d.sums.pairs) for d in c.recent_days] == [(day1, 400), (day2, 300)]
    assert c.looks[-1].candidate_observations == 700
    # A day on, day 1 leaves the 2-day look-back: kept as counted, no longer held for replacing.
    third = look(second, 3, {day1: 400, day2: 300, day3: 100})
    c = third.canary
    assert c is not None and c.sums.pairs == 800
    assert [d.day for d in c.recent_days] == [day2, day3]
    # A day counted before and no longer held (an operator upgraded mid-canary) is never counted twice.
    fourth = look(third, 4, {day1: 999, day3: 100})
    assert fourth.canary is not None and fourth.canary.sums.pairs == 800
    # Sums that replace never drift from a fresh count: the same as adding each day's last measurement.
    fresh = sum(canary_sums(n, 1.0, paired=True).candidate_sum for n in (400, 300, 100))
    assert fourth.canary.sums.candidate_sum == pytest.approx(fresh)


@pytest.mark.parametrize(("ratio", "verdict", "phase"), [(0.9, Verdict.PASS, Phase.PROMOTING),
                                                          (1.2, Verdict.FAIL, Phase.SERVING)])  # fmt: skip
def test_a_verdict_promotes_or_rolls_back(ratio: float, verdict: Verdict, phase: Phase) -> None:
    world = World(canary_ratio=ratio, look_rows=3000, paired=True)
    world.rollouts = dict(shadow_rollouts().rollouts)
    status, plans = drive(world, spec(**SHADOW), running(), steps=12, tick=INTERVAL)
    looks = [e for p in plans for e in p.events if e.reason == "CanaryAnalysis"]
    assert looks and f": {verdict}" in looks[-1].message
    assert status.phase in (phase, Phase.SERVING)
    last = status.history[0]
    assert last.version == V2
    assert last.decision == ("Promoted" if verdict is Verdict.PASS else "RolledBack")
    if verdict is Verdict.FAIL:
        assert status.stable is not None and status.stable.version == V1
        assert (
            set(world.rollouts) == {Role.STABLE} and world.rollouts[Role.STABLE].traffic is Traffic.OWN
        )  # mirror removed


def test_split_mode_steps_the_weight_on_healthy_looks_without_a_verdict() -> None:
    s = spec(**SPLIT)
    ready = Observed(
        rollouts={Role.STABLE: complete(pin(V1), 3), Role.CANARY: complete(pin(V2), 1, traffic=Traffic.SHARE)}
    )
    start = decide(NAME, s, running(weight=25), ready, NOW + INTERVAL)
    assert start.actions == (StartEvaluation(f"{NAME}-canary-{V2}-1", None, Comparison(V1, V2, paired=False)),)
    assert start.status.canary is not None
    few = report(canary_sums(100, 1.0), FIRST_DAY)  # too few offer-days for a verdict: Running, healthy
    done = Observed(rollouts=ready.rollouts, evaluation=RunObservation(RunState.SUCCEEDED), evaluated=few)
    stepped = decide(NAME, s, start.status, done, NOW + INTERVAL)
    c = stepped.status.canary
    assert c is not None and (c.step, c.verdict) == (1, Verdict.RUNNING)
    # 25% beside 3 stable replicas: one canary replica (25%) is already right; 50% asks for three.
    assert c.weight == 25
    assert "CanaryWeight" in [e.reason for e in stepped.events]
    third = decide(NAME, s, stepped.status.model_copy(update={"canary": c.model_copy(update={"step": 2})}), ready,
                   NOW + INTERVAL)  # fmt: skip
    assert Deploy(Role.CANARY, pin(V2), replicas=3, traffic=Traffic.SHARE) in third.actions


def test_a_guardrail_breach_fails_the_canary_at_once_and_no_data_is_not_a_failure() -> None:
    s = spec(**SHADOW)
    status = running(job_name=f"{NAME}-canary-{V2}-1")
    empty = Observed(rollouts=shadow_rollouts().rollouts, evaluation=RunObservation(RunState.SUCCEEDED),
                     evaluated=report(canary_sums(0, 1.0, paired=True), FIRST_DAY, paired=True))  # fmt: skip
    quiet = decide(NAME, s, status, empty, NOW + INTERVAL)
    assert quiet.status.phase is Phase.CANARY
    assert quiet.status.canary is not None and quiet.status.canary.failed_checks == 0
    assert "no new offer-days" in quiet.status.canary.looks[-1].message
    over = canary_sums(800, 1.0, paired=True).model_copy(update={"candidate_predicted": 1600.0})  # calibration 2
    breach = Observed(rollouts=shadow_rollouts().rollouts, evaluation=RunObservation(RunState.SUCCEEDED),
                      evaluated=report(over, FIRST_DAY, paired=True))  # fmt: skip
    failed = decide(NAME, s, status, breach, NOW + INTERVAL)
    assert failed.status.phase is Phase.SERVING
    assert failed.status.history[0].reason == "CanaryFailed"
    assert "calibration 2.000" in failed.status.history[0].message
    tolerant = decide(NAME, spec(**SHADOW, **{"canary.failureLimit": 1}), status, breach, NOW + INTERVAL)
    assert tolerant.status.phase is Phase.CANARY
    assert tolerant.status.canary is not None and tolerant.status.canary.failed_checks == 1


def test_a_failed_evaluation_run_is_reported_and_retried_next_interval() -> None:
    status = running(job_name=f"{NAME}-canary-{V2}-1")
    broken = Observed(rollouts=shadow_rollouts().rollouts, evaluation=RunObservation(RunState.FAILED, "OOMKilled"))
    plan = decide(NAME, spec(**SHADOW), status, broken, NOW + INTERVAL)
    assert plan.status.phase is Phase.CANARY
    c = plan.status.canary
    assert c is not None and (c.job_name, c.analyses, c.failed_checks) == (None, 0, 0)
    assert [e.reason for e in plan.events] == ["AnalysisFailed"] and "OOMKilled" in plan.events[0].message


GITOPS = {"promotion.gitops": {"repoUrl": "file:///srv/releases.git", "mode": "commit"}}


def test_gitops_records_the_promotion_before_stable_moves_and_a_failed_push_holds_it() -> None:
    from clickcast.core import RecordPromotion
    from clickcast.core.observed import GitPromotion

    s = spec(**SHADOW, **GITOPS)
    passed = running(verdict=Verdict.PASS)
    start = decide(NAME, s, passed, shadow_rollouts(), NOW)
    assert start.status.phase is Phase.PROMOTING
    [record] = start.actions
    assert isinstance(record, RecordPromotion)
    assert (record.candidate.version, record.previous and record.previous.version, record.time) == (V2, V1, NOW)
    # The push failed: still Promoting, stable untouched, the condition says why; asked again later.
    failed = Observed(rollouts=shadow_rollouts().rollouts, git=GitPromotion(error="push rejected by pre-receive"))
    held = decide(NAME, s, start.status, failed, NOW + INTERVAL)
    assert held.status.phase is Phase.PROMOTING and held.status.stable == passed.stable
    assert not any(isinstance(a, Deploy) for a in held.actions) and any(
        isinstance(a, RecordPromotion) and a.time == NOW for a in held.actions)  # fmt: skip
    assert [e.reason for e in held.events] == ["GitOpsFailed"]
    # Recorded: now stable rolls to the candidate, and the history names the commit.
    recorded = Observed(rollouts=shadow_rollouts().rollouts, git=GitPromotion(commit="ab" * 20, merged=True))
    rolling = decide(NAME, s, held.status, recorded, NOW + 2 * INTERVAL)
    assert Deploy(Role.STABLE, pin(V2), replicas=2) in rolling.actions
    assert rolling.status.candidate is not None and rolling.status.candidate.git_commit == "ab" * 20
    done = Observed(rollouts={Role.STABLE: complete(pin(V2)), Role.CANARY: complete(pin(V2), 1)})
    final = decide(NAME, s, rolling.status, done, NOW + 3 * INTERVAL)
    assert final.status.phase is Phase.SERVING
    assert final.status.history[0].git_commit == "ab" * 20


def test_gitops_branch_mode_waits_for_the_review_branch_to_be_merged() -> None:
    from clickcast.core.observed import GitPromotion

    s = spec(**SHADOW, **{"promotion.gitops": {"repoUrl": "file:///srv/releases.git", "mode": "branch"}})
    start = decide(NAME, s, running(verdict=Verdict.PASS), shadow_rollouts(), NOW)
    pushed = GitPromotion(commit="cd" * 20, merged=False, branch=f"clickcast/promote-ns-{NAME}-{V2}")
    review = decide(NAME, s, start.status, Observed(rollouts=shadow_rollouts().rollouts, git=pushed), NOW)
    assert review.status.phase is Phase.PROMOTING
    assert [e.reason for e in review.events] == ["AwaitingMerge"]
    assert not any(isinstance(a, Deploy) for a in review.actions)
    merged = GitPromotion(commit="cd" * 20, merged=True, branch=pushed.branch)
    go = decide(NAME, s, review.status, Observed(rollouts=shadow_rollouts().rollouts, git=merged), NOW)
    assert Deploy(Role.STABLE, pin(V2), replicas=2) in go.actions


GATEWAY = {"canary.mode": "split", "canary.steps": [20, 60], "canary.minObservations": 500,
           "canary.gateway": {"parentRefs": [{"name": "public", "namespace": "gateways"}]}}  # fmt: skip


def test_a_gateway_split_weighs_the_versions_with_the_httproute_and_empties_it_before_retiring() -> None:
    from clickcast.core import Route

    s = spec(**GATEWAY)
    rollouts = {Role.STABLE: complete(pin(V1)), Role.CANARY: complete(pin(V2), 1)}
    ready = decide(NAME, s, canary_status(), Observed(rollouts=rollouts, route_weight=0), NOW)
    assert ready.status.canary is not None and ready.status.canary.weight == 20
    assert Route(20) in ready.actions
    assert not any(isinstance(a, Deploy) for a in ready.actions)  # one canary replica, not behind stable's Service
    look = ready.status.model_copy(update={"canary": ready.status.canary.model_copy(
        update={"job_name": f"{NAME}-canary-{V2}-1"})})  # fmt: skip
    done = Observed(rollouts=rollouts, route_weight=20, evaluation=RunObservation(RunState.SUCCEEDED),
                    evaluated=report(canary_sums(100, 1.0), FIRST_DAY))  # fmt: skip
    stepped = decide(NAME, s, look, done, NOW + INTERVAL)
    assert stepped.status.canary is not None and stepped.status.canary.weight == 60
    assert Route(60) in stepped.actions
    # A rollback sends everything to stable before the canary's pods go.
    failed = stepped.status.model_copy(update={"canary": stepped.status.canary.model_copy(
        update={"verdict": Verdict.FAIL})})  # fmt: skip
    back = decide(NAME, s, failed, Observed(rollouts=rollouts, route_weight=60), NOW + INTERVAL)
    assert back.actions.index(Route(0)) < back.actions.index(Retire(Role.CANARY))
    # Serving: all traffic to stable, repaired if changed behind our back.
    assert Route(0) in decide(NAME, s, back.status, Observed(rollouts={Role.STABLE: complete(pin(V1))},
                                                             route_weight=35), NOW).actions  # fmt: skip


def test_the_candidates_own_error_rate_and_latency_are_guardrails_once_it_has_answered_enough() -> None:
    from clickcast.core.observed import ServiceHealth

    s = spec(**SHADOW)
    status = running(job_name=f"{NAME}-canary-{V2}-1")

    def look(health: ServiceHealth) -> ClickModelStatus:
        observed = Observed(rollouts=shadow_rollouts().rollouts, evaluation=RunObservation(RunState.SUCCEEDED),
                            evaluated=report(canary_sums(300, 1.0, paired=True), FIRST_DAY, paired=True),
                            canary_health=health)  # fmt: skip
        return decide(NAME, s, status, observed, NOW + INTERVAL).status

    assert look(ServiceHealth(50, 40, 0.01)).phase is Phase.CANARY  # too few requests to judge
    assert look(ServiceHealth(1000, 5, 0.05)).phase is Phase.CANARY  # 0.5% errors, 50ms: healthy
    errors = look(ServiceHealth(1000, 30, 0.05))
    assert errors.phase is Phase.SERVING and "error rate 3.00%" in errors.history[0].message
    slow = look(ServiceHealth(1000, 0, 0.9))
    assert slow.phase is Phase.SERVING and "p99 latency 900ms" in slow.history[0].message


def test_the_candidates_margin_on_a_looks_offer_days_is_a_guardrail_when_the_spec_sets_a_floor() -> None:
    from clickcast.analysis.evidence import VersionMetrics
    from clickcast.api.status import Metrics

    status = running(job_name=f"{NAME}-canary-{V2}-1")

    def look(margin: float, rows: int, **overrides: object) -> ClickModelStatus:
        evaluated = report(canary_sums(300, 1.0, paired=True), FIRST_DAY, paired=True)
        evaluated.comparison = evaluated.comparison.model_copy(update={"candidate_version": V2})  # type: ignore[union-attr]
        evaluated.versions = [VersionMetrics(model=NAME, model_version=V2, role=Role.SHADOW,
                                             metrics=Metrics(rows=rows, margin=margin))]  # fmt: skip
        observed = Observed(rollouts=shadow_rollouts().rollouts, evaluation=RunObservation(RunState.SUCCEEDED),
                            evaluated=evaluated)  # fmt: skip
        return decide(NAME, spec(**SHADOW, **overrides), status, observed, NOW + INTERVAL).status

    floor = {"validation.absolute.minMargin": 5.0}
    assert look(2.0, 800).phase is Phase.CANARY  # no floor in the spec: not judged
    assert look(6.0, 800, **floor).phase is Phase.CANARY
    assert look(2.0, 50, **floor).phase is Phase.CANARY  # too few offer-days in this look to judge
    below = look(2.0, 800, **floor)
    assert (
        below.phase is Phase.SERVING
        and "margin 2.00 per 1000 offer-days below minMargin 5.0" in below.history[0].message
    )
