"""Nothing waits forever: the promotion's deadline, the canary's Error outcome, the store's refusals, and the
ReconcileError condition of a model whose reconciliations keep failing (issue 19)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clickcast.api.roles import Role
from clickcast.api.status import (
    Condition,
    ConditionStatus,
    ConditionType,
    MonitoringStatus,
    Phase,
    ReleaseOutcome,
    Verdict,
)
from clickcast.core import Deploy, Observed, RecordPromotion, Retire, RunObservation, RunState, StartEvaluation, decide
from clickcast.core.conditions import condition
from clickcast.core.events import EventReason
from clickcast.core.faults import Failure, not_owned, reconcile_failed, reconciled
from clickcast.core.naming import canary_run_name, quality_run_name
from clickcast.core.observed import GitPromotion
from clickcast.core.plan import EventType, Plan, StopRun
from tests.unit.core.core_world import NAME, NOW, World, canary_sums, complete, drive, pin, report, run, spec, trained
from tests.unit.core.test_core_canary import SHADOW, running, shadow_rollouts
from tests.unit.core.test_core_decide import V1, V2, serving_status, stable, training

pytestmark = pytest.mark.unit

INTERVAL = timedelta(minutes=10)
DAY = timedelta(hours=24)
GITOPS = {"promotion.gitops": {"repoUrl": "file:///srv/releases.git", "mode": "branch"}}


def reasons(plan: Plan) -> list[str]:
    return [e.reason for e in plan.events]


def cond(plan: Plan, type_: ConditionType) -> tuple[ConditionStatus, str, str]:
    c = condition(plan.status.conditions, type_)
    assert c is not None, [x.type for x in plan.status.conditions]
    return c.status, c.reason, c.message


# 1. Promoting ends at its deadline whatever Git answered.

PUSHED = GitPromotion(commit="cd" * 20, merged=False, branch=f"clickcast/promote-ns-{NAME}-{V2}")


@pytest.mark.parametrize(
    ("git", "why"),
    [
        (GitPromotion(error="push rejected: remote unreachable"), "the last attempt failed: push rejected"),
        (PUSHED, f"review branch {PUSHED.branch} was not merged into main"),
        (None, "Git did not answer"),
    ],
    ids=["push-failing", "never-merged", "no-answer"],
)
def test_promoting_ends_at_its_deadline_whatever_git_answered(git: GitPromotion | None, why: str) -> None:
    s = spec(**SHADOW, **GITOPS)
    start = decide(NAME, s, running(verdict=Verdict.PASS), shadow_rollouts(), NOW)
    assert start.status.phase is Phase.PROMOTING
    seen = Observed(rollouts=shadow_rollouts().rollouts, git=git)
    before = decide(NAME, s, start.status, seen, NOW + DAY - timedelta(seconds=1))
    assert before.status.phase is Phase.PROMOTING
    assert any(isinstance(a, RecordPromotion) for a in before.actions)
    assert before.requeue_after is not None and before.requeue_after <= timedelta(seconds=15)

    late = decide(NAME, s, before.status, seen, NOW + DAY)
    assert late.status.phase is Phase.SERVING
    assert late.status.stable == start.status.stable  # never touched
    assert late.status.candidate is None and late.status.canary is None
    assert Retire(Role.CANARY) in late.actions
    assert not any(isinstance(a, RecordPromotion) for a in late.actions)
    assert not any(isinstance(a, Deploy) and a.pin == pin(V2) for a in late.actions)
    status, reason, message = cond(late, ConditionType.PROMOTED)
    assert (status, reason) == (ConditionStatus.FALSE, "PromotionTimedOut")
    assert "promotion.timeout 24h" in message and why in message
    [event] = [e for e in late.events if e.reason is EventReason.PROMOTION_TIMED_OUT]
    assert event.type is EventType.WARNING and why in event.message
    entry = late.status.history[0]
    assert (entry.version, entry.decision, entry.reason) == (V2, ReleaseOutcome.ROLLED_BACK, "PromotionTimedOut")


def test_a_promotion_recorded_at_the_deadline_still_goes_through_and_the_deadline_is_a_setting() -> None:
    s = spec(**SHADOW, **GITOPS, **{"promotion.timeout": "2h"})
    start = decide(NAME, s, running(verdict=Verdict.PASS), shadow_rollouts(), NOW)
    merged = Observed(rollouts=shadow_rollouts().rollouts, git=GitPromotion(commit="cd" * 20, merged=True))
    go = decide(NAME, s, start.status, merged, NOW + timedelta(hours=3))
    assert go.status.phase is Phase.PROMOTING
    assert Deploy(Role.STABLE, pin(V2), replicas=2) in go.actions
    pending = Observed(rollouts=shadow_rollouts().rollouts, git=PUSHED)
    assert decide(NAME, s, start.status, pending, NOW + timedelta(hours=2)).status.phase is Phase.SERVING


def test_a_remote_the_operator_refuses_ends_the_promotion_at_once_and_stable_stays() -> None:
    s = spec(**SHADOW, **GITOPS)
    start = decide(NAME, s, running(verdict=Verdict.PASS), shadow_rollouts(), NOW)
    refused = GitPromotion(error="http:// is not allowed (operator.gitSchemes: https, ssh)", refused=True)
    ended = decide(NAME, s, start.status, Observed(rollouts=shadow_rollouts().rollouts, git=refused), NOW)
    assert ended.status.phase is Phase.SERVING and ended.status.stable == start.status.stable
    assert Retire(Role.CANARY) in ended.actions
    assert not any(isinstance(a, RecordPromotion) for a in ended.actions)
    status, reason, message = cond(ended, ConditionType.PROMOTED)
    assert (status, reason) == (ConditionStatus.FALSE, "GitOpsRefused") and "operator.gitSchemes" in message
    assert EventReason.GITOPS_REFUSED in reasons(ended)
    # The same error without the refusal (a remote down) is retried until the deadline.
    down = GitPromotion(error=refused.error)
    assert decide(NAME, s, start.status, Observed(rollouts=shadow_rollouts().rollouts, git=down),
                  NOW).status.phase is Phase.PROMOTING  # fmt: skip


@pytest.mark.parametrize("observed_run", [RunState.RUNNING, RunState.MISSING], ids=["hanging", "never-started"])
def test_a_training_run_past_its_timeout_is_stopped_and_failed_and_stable_keeps_serving(observed_run: RunState) -> None:
    """A SparkApplication has no deadline of its own: the core's, `training.timeout` plus a grace, stops it."""
    s = spec(**{"training.timeout": "1h", "suspend": observed_run is RunState.MISSING})
    status = serving_status(phase=Phase.TRAINING, training=training())
    before = decide(NAME, s, status, Observed(training=run(observed_run)), NOW + timedelta(hours=1, minutes=1))
    assert before.status.phase is Phase.TRAINING and before.actions == ()
    assert before.requeue_after is not None and before.requeue_after <= timedelta(minutes=1)
    late = decide(NAME, s, status, Observed(training=run(observed_run)), NOW + timedelta(hours=1, minutes=2))
    # Stable keeps serving (a suspended model, whose run was never started, stays Suspended).
    assert late.status.phase is (Phase.SUSPENDED if s.suspend else Phase.SERVING)
    assert late.status.stable == status.stable
    assert StopRun(f"{NAME}-train-{V2}") in late.actions
    status_, reason, message = cond(late, ConditionType.TRAINED)
    assert (status_, reason) == (ConditionStatus.FALSE, "TrainingFailed") and "training.timeout 1h" in message
    assert late.status.training is not None and late.status.training.retry_at is not None


# 4. The canary's Error outcome: failed evaluation runs are counted, retried under new names, and end it.


def _failed_look(message: str = "OOMKilled") -> Observed:
    return Observed(rollouts=shadow_rollouts().rollouts, evaluation=RunObservation(RunState.FAILED, message))


def test_failed_evaluation_runs_are_counted_retried_under_new_names_and_roll_back_past_the_limit() -> None:
    s = spec(**SHADOW, **{"canary.consecutiveErrorLimit": 2})
    status, now = running(job_name=canary_run_name(NAME, V2, 1)), NOW + INTERVAL
    names = [canary_run_name(NAME, V2, 1)]
    for errors in (1, 2):
        plan = decide(NAME, s, status, _failed_look(f"OOMKilled #{errors}"), now)
        c = plan.status.canary
        assert plan.status.phase is Phase.CANARY and c is not None
        assert (c.consecutive_errors, c.job_name, c.analyses, c.verdict) == (errors, None, 0, Verdict.RUNNING)
        assert reasons(plan) == [EventReason.ANALYSIS_FAILED] and f"error {errors} in a row" in plan.events[0].message
        # The retry, an interval later, is a run of its own: the failed one would only be adopted again.
        now += INTERVAL
        retry = decide(NAME, s, plan.status, shadow_rollouts(), now)
        [start] = [a for a in retry.actions if isinstance(a, StartEvaluation)]
        assert start.name == canary_run_name(NAME, V2, 1, errors) and start.name not in names
        names.append(start.name)
        status = retry.status
    ended = decide(NAME, s, status, _failed_look("OOMKilled #3"), now)
    assert ended.status.phase is Phase.SERVING and ended.status.stable == stable()
    assert Retire(Role.CANARY) in ended.actions
    status_, reason, message = cond(ended, ConditionType.PROMOTED)
    assert (status_, reason) == (ConditionStatus.FALSE, "CanaryErrored")
    assert "3 evaluation runs in a row" in message and "OOMKilled #3" in message
    entry = ended.status.history[0]
    assert entry.reason == "CanaryErrored" and entry.canary is not None and entry.canary.verdict is Verdict.ERROR
    assert EventReason.ROLLED_BACK in reasons(ended)


def test_a_look_that_succeeds_resets_the_error_count_and_zero_tolerates_no_error() -> None:
    s = spec(**SHADOW, **{"canary.consecutiveErrorLimit": 1})
    run_name = canary_run_name(NAME, V2, 1, 1)
    status = running(job_name=run_name, consecutive_errors=1, last_error="OOMKilled")
    ok = Observed(rollouts=shadow_rollouts().rollouts, evaluation=RunObservation(RunState.SUCCEEDED),
                  evaluated=report(canary_sums(100, 1.0, paired=True), NOW.date(), paired=True))  # fmt: skip
    looked = decide(NAME, s, status, ok, NOW + INTERVAL)
    c = looked.status.canary
    assert c is not None and (c.consecutive_errors, c.last_error, c.analyses) == (0, None, 1)
    strict = spec(**SHADOW, **{"canary.consecutiveErrorLimit": 0})
    first = decide(NAME, strict, running(job_name=canary_run_name(NAME, V2, 1)), _failed_look(), NOW + INTERVAL)
    assert first.status.phase is Phase.SERVING and first.status.history[0].reason == "CanaryErrored"


def test_a_canary_whose_evaluations_always_fail_ends_well_before_max_duration() -> None:
    world = World(paired=True, evaluation_outcome=RunState.FAILED)
    world.rollouts = dict(shadow_rollouts().rollouts)
    final, plans = drive(world, spec(**SHADOW), running(), steps=40, tick=INTERVAL)
    assert final.phase is Phase.SERVING, final.phase
    assert final.history[0].reason == "CanaryErrored"
    assert sum(p.status.phase is Phase.CANARY for p in plans) < 12  # 4 looks of 10 minutes, not 24 hours


def test_consecutive_error_limit_is_validated() -> None:
    with pytest.raises(ValueError, match="consecutiveErrorLimit"):
        spec(**{"canary.consecutiveErrorLimit": -1})
    assert spec().canary.consecutive_error_limit == 3
    assert spec().promotion.timeout == "24h"


def test_a_run_that_succeeded_without_a_report_is_awaited_an_interval_then_an_error() -> None:
    """A report written where the operator does not look (the store URL changed under the run) is not awaited
    forever: one interval after the look's run was asked for, it is an error like a failed run."""
    s = spec(**SHADOW)
    status = running(job_name=canary_run_name(NAME, V2, 1))  # asked for at NOW + INTERVAL
    silent = Observed(rollouts=shadow_rollouts().rollouts, evaluation=RunObservation(RunState.SUCCEEDED))
    waiting = decide(NAME, s, status, silent, NOW + 2 * INTERVAL - timedelta(seconds=1))
    assert waiting.status.canary == status.canary and waiting.events == ()
    late = decide(NAME, s, status, silent, NOW + 2 * INTERVAL)
    c = late.status.canary
    assert c is not None and c.consecutive_errors == 1 and "no report in the store" in (c.last_error or "")
    serving = serving_status(monitoring=MonitoringStatus(evaluations=2, job_name=quality_run_name(NAME, 3),
                                                         last_evaluated_at=NOW))  # fmt: skip
    quiet = Observed(rollouts={Role.STABLE: complete(pin(V1))}, evaluation=RunObservation(RunState.SUCCEEDED))
    hour = timedelta(hours=1)  # the default monitoring.interval
    assert decide(NAME, spec(), serving, quiet, NOW + 2 * hour - timedelta(seconds=1)).events == ()
    gave_up = decide(NAME, spec(), serving, quiet, NOW + 2 * hour)
    assert gave_up.status.monitoring is not None and gave_up.status.monitoring.failures == 1
    assert reasons(gave_up) == [EventReason.QUALITY_EVALUATION_FAILED]


# 3. The store refusing a read is a condition and an evaluation error, not a failed reconciliation.


def test_a_report_the_store_refuses_is_an_error_of_the_look_and_sets_store_readable_false() -> None:
    s = spec(**SHADOW)
    status = running(job_name=canary_run_name(NAME, V2, 1))
    refused = Observed(rollouts=shadow_rollouts().rollouts, evaluation=RunObservation(RunState.SUCCEEDED),
                       store_error="report of x: NoCredentialsError: Unable to locate credentials")  # fmt: skip
    plan = decide(NAME, s, status, refused, NOW + INTERVAL)
    c = plan.status.canary
    assert c is not None and c.consecutive_errors == 1 and "NoCredentialsError" in (c.last_error or "")
    assert cond(plan, ConditionType.STORE_READABLE)[:2] == (ConditionStatus.FALSE, "StoreRefused")
    assert reasons(plan) == [EventReason.ANALYSIS_FAILED, EventReason.STORE_REFUSED]
    again = decide(NAME, s, plan.status, refused, NOW + 2 * INTERVAL)
    assert EventReason.STORE_REFUSED not in reasons(again)  # one Event per transition
    healed = decide(NAME, s, plan.status, shadow_rollouts(), NOW + 2 * INTERVAL)
    assert cond(healed, ConditionType.STORE_READABLE)[:2] == (ConditionStatus.TRUE, "StoreReadable")
    assert reasons(healed) == [EventReason.STORE_READABLE]
    untouched = decide(NAME, s, running(), shadow_rollouts(), NOW)  # a store never refused: no such condition
    assert condition(untouched.status.conditions, ConditionType.STORE_READABLE) is None


def test_a_run_that_succeeded_while_the_store_refuses_is_not_a_failed_training() -> None:
    status = serving_status(phase=Phase.TRAINING, training=training(V2))
    refused = Observed(training=RunObservation(RunState.SUCCEEDED), rollouts={Role.STABLE: complete(pin(V1))},
                       store_error=f"version {V2}: PermissionError: Access Denied")  # fmt: skip
    plan = decide(NAME, spec(), status, refused, NOW)
    assert plan.status.phase is Phase.TRAINING and plan.status.training is not None
    assert plan.status.training.failures == 0 and not plan.status.history
    assert cond(plan, ConditionType.STORE_READABLE)[:2] == (ConditionStatus.FALSE, "StoreRefused")
    readable = Observed(training=RunObservation(RunState.SUCCEEDED), trained=trained(V2),
                        rollouts={Role.STABLE: complete(pin(V1))})  # fmt: skip
    assert decide(NAME, spec(), plan.status, readable, NOW).status.phase is not Phase.TRAINING


def test_failed_quality_evaluations_are_counted_and_retried_under_new_names() -> None:
    status = serving_status(monitoring=MonitoringStatus(evaluations=4, job_name=quality_run_name(NAME, 5)))
    failed = Observed(rollouts={Role.STABLE: complete(pin(V1))}, evaluation=RunObservation(RunState.FAILED, "OOM"))
    plan = decide(NAME, spec(), status, failed, NOW)
    m = plan.status.monitoring
    assert m is not None and (m.failures, m.job_name) == (1, None)
    assert "1 in a row" in plan.events[0].message
    retry = decide(NAME, spec(), plan.status, Observed(rollouts=failed.rollouts), NOW + timedelta(hours=1))
    assert StartEvaluation(quality_run_name(NAME, 5, 1), None) in retry.actions


# 2. ReconcileError: after `limit` failed reconciliations in a row, the model says so; a success clears it.


def test_reconcile_error_appears_at_the_limit_once_and_clears_on_success() -> None:
    status = serving_status()
    failure = Failure.of("NoCredentialsError", "Unable to locate credentials")
    quiet = reconcile_failed(status, failure, streak=2, limit=3, generation=4, now=NOW)
    assert (quiet.status, quiet.events) == (status, ())
    first = reconcile_failed(status, failure, streak=3, limit=3, generation=4, now=NOW)
    c = condition(first.status.conditions, ConditionType.RECONCILE_ERROR)
    assert c is not None and (c.status, c.reason, c.observed_generation) == (
        ConditionStatus.TRUE, "NoCredentialsError", 4)  # fmt: skip
    assert "3 reconciliations in a row" in c.message and "Unable to locate credentials" in c.message
    [event] = first.events
    assert (event.type, event.reason) == (EventType.WARNING, EventReason.RECONCILE_ERROR)
    later = reconcile_failed(first.status, failure, streak=4, limit=3, generation=4, now=NOW + timedelta(minutes=1))
    # The same fault again: no Event, and no status write either (it would wake the watch and skip the backoff).
    assert (later.status, later.events) == (first.status, ())
    other = reconcile_failed(later.status, Failure.of("ApiException", "", status=403, http_reason="Forbidden"),
                             streak=5, limit=3, generation=4, now=NOW)  # fmt: skip
    assert [e.reason for e in other.events] == [EventReason.RECONCILE_ERROR]  # a new reason is news
    cleared = reconciled(other.status, generation=5, now=NOW + DAY)
    c = condition(cleared.status.conditions, ConditionType.RECONCILE_ERROR)
    assert c is not None and (c.status, c.reason) == (ConditionStatus.FALSE, "Reconciled")
    assert [e.type for e in cleared.events] == [EventType.NORMAL]
    assert reconciled(cleared.status, generation=5, now=NOW).events == ()  # nothing to clear twice
    never = reconciled(status, generation=1, now=NOW)
    assert (never.status, never.events) == (status, ())


def test_a_refusal_to_touch_a_foreign_object_is_said_at_once_once_per_object_and_clears_on_success() -> None:
    status = serving_status()
    refusal = "Deployment ads/offers-stable exists and has no controller, not this ClickModel: not changed"
    first = not_owned(status, refusal, generation=4, now=NOW)
    c = condition(first.status.conditions, ConditionType.RECONCILE_ERROR)
    assert c is not None and (c.status, c.reason, c.message) == (ConditionStatus.TRUE, "ResourceNotOwned", refusal)
    assert [(e.type, e.reason, e.message) for e in first.events] == [
        (EventType.WARNING, EventReason.RESOURCE_NOT_OWNED, refusal)]  # fmt: skip
    again = not_owned(first.status, refusal, generation=4, now=NOW + timedelta(minutes=1))
    assert (again.status, again.events) == (first.status, ())  # the retries say nothing new
    other = not_owned(first.status, refusal.replace("stable", "canary"), generation=4, now=NOW)
    assert [e.reason for e in other.events] == [EventReason.RESOURCE_NOT_OWNED]  # another object is news
    cleared = reconciled(other.status, generation=4, now=NOW + DAY)
    c = condition(cleared.status.conditions, ConditionType.RECONCILE_ERROR)
    assert c is not None and (c.status, c.reason) == (ConditionStatus.FALSE, "Reconciled")


@pytest.mark.parametrize(
    ("kind", "text", "http", "reason", "message"),
    [
        (
            "NoCredentialsError",
            "Unable to locate credentials",
            None,
            "NoCredentialsError",
            "Unable to locate credentials",
        ),
        (
            "ApiException",
            "(403)\nReason: Forbidden\nHTTP response headers: HTTPHeaderDict({'Audit-Id': 'x'})",
            (403, "Forbidden"),
            "ApiException",
            "HTTP 403 Forbidden",
        ),
        (
            "GitOpsError",
            "git push https://bot:ghp_S3CRET@git.example.com/r.git failed",
            None,
            "GitOpsError",
            "git push https://***@git.example.com/r.git failed",
        ),
        (
            "ValueError",
            "\n\nbad storage option token=abc123 in file\nsecond line",
            None,
            "ValueError",
            "bad storage option token=*** in file",
        ),
        ("weird.Name-1", "x", None, "weirdName1", "x"),
        ("_private", "x" * 1000, None, "Error", "x" * 299 + "…"),
    ],
    ids=["plain", "http-body-left-out", "url-userinfo", "key-value", "reason-chars", "bounded"],
)
def test_a_failure_is_described_in_one_short_line_without_secrets(
    kind: str, text: str, http: tuple[int, str] | None, reason: str, message: str
) -> None:
    f = Failure.of(kind, text, status=http[0] if http else None, http_reason=http[1] if http else None)
    assert (f.reason, f.message) == (reason, message)
    Condition(type="ReconcileError", status=ConditionStatus.TRUE, reason=f.reason, message=f.message,
              last_transition_time=NOW)  # the API's own pattern for reasons accepts it  # fmt: skip
