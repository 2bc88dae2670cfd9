"""The lifecycle core as state tables: (status in, observed) → plan out."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clickcast.api.roles import Role
from clickcast.api.status import (
    CanaryStatus,
    CandidateStatus,
    ClickModelStatus,
    ConditionStatus,
    ConditionType,
    ModelVersionStatus,
    Phase,
    ReleaseOutcome,
    TrainingStatus,
    Verdict,
)
from clickcast.api.traffic import Traffic
from clickcast.core import Deploy, Observed, Plan, Retire, Rollout, RunState, StartScoring, StartTraining, decide
from clickcast.core.conditions import condition
from clickcast.core.training import training_spec_hash
from tests.unit.core.core_world import NAME, NOW, World, complete, drive, evidence, pin, run, spec, trained

pytestmark = pytest.mark.unit

V1, V2 = "v20261120-030000", "v20261127-030000"
TRAIN_V2 = f"{NAME}-train-{V2}"


def stable(version: str = V1) -> ModelVersionStatus:
    p = pin(version)
    return ModelVersionStatus(version=version, uri=p.uri, manifest_sha256=p.manifest_sha256)


def candidate(version: str = V2, **extra: object) -> CandidateStatus:
    p = pin(version)
    return CandidateStatus(
        version=version, uri=p.uri, manifest_sha256=p.manifest_sha256, rollout_started_at=NOW, **extra
    )  # type: ignore[arg-type]


def training(version: str = V2, **extra: object) -> TrainingStatus:
    fields = {"job_name": f"{NAME}-train-{version}", "version": version, "started_at": NOW,
              "spec_hash": training_spec_hash(spec())} | extra  # fmt: skip
    return TrainingStatus.model_validate(fields)


def serving_status(**extra: object) -> ClickModelStatus:
    fields = {"phase": Phase.SERVING, "stable": stable(), "training": training(V1)} | extra
    return ClickModelStatus.model_validate(fields)


SERVING_V1 = {Role.STABLE: complete(pin(V1))}


def reasons(plan: Plan) -> list[str]:
    return [e.reason for e in plan.events]


def cond(plan: Plan, type_: ConditionType) -> tuple[str, str]:
    c = condition(plan.status.conditions, type_)
    assert c is not None
    return c.status, c.reason


def test_a_new_clickmodel_starts_its_first_training() -> None:
    plan = decide(NAME, spec(), ClickModelStatus(), Observed(generation=1), NOW)
    assert plan.status.phase is Phase.TRAINING
    assert plan.actions == (StartTraining(TRAIN_V2, V2, None),)
    assert plan.status.training is not None
    assert (plan.status.training.version, plan.status.training.reason) == (V2, "Created")
    assert reasons(plan) == ["TrainingStarted"]
    assert cond(plan, ConditionType.TRAINED) == (ConditionStatus.UNKNOWN, "Training")
    assert cond(plan, ConditionType.READY) == (ConditionStatus.FALSE, "NoStableVersion")
    assert plan.status.observed_generation == 1
    assert plan.requeue_after is not None


def test_suspended_before_the_first_training_starts_nothing() -> None:
    plan = decide(NAME, spec(suspend=True), ClickModelStatus(), Observed(), NOW)
    assert (plan.status.phase, plan.actions, reasons(plan)) == (Phase.SUSPENDED, (), ["Suspended"])


def test_a_spec_that_cannot_run_ends_in_a_clear_condition() -> None:
    blocked = Observed(blocker="spec.data.url: no filesystem for scheme 'hdfs' (install its fsspec package)")
    plan = decide(NAME, spec(), ClickModelStatus(), blocked, NOW)
    assert (plan.status.phase, plan.actions) == (Phase.FAILED, ())
    assert cond(plan, ConditionType.TRAINED) == (ConditionStatus.FALSE, "SpecNotRunnable")
    assert reasons(plan) == ["SpecNotRunnable"]
    again = decide(NAME, spec(), plan.status, blocked, NOW + timedelta(minutes=5))
    assert (again.actions, again.events) == ((), ())  # no crash loop, no event storm


@pytest.mark.parametrize(
    ("observed_run", "expected_actions"),
    [
        (RunState.RUNNING, ()),
        (RunState.MISSING, (StartTraining(TRAIN_V2, V2, pin(V1)),)),  # status was written, the Job was not
    ],
    ids=["running-waits", "missing-is-recreated-under-the-same-name"],
)
def test_training_in_progress(observed_run: RunState, expected_actions: tuple[object, ...]) -> None:
    status = serving_status(phase=Phase.TRAINING, training=training())
    plan = decide(NAME, spec(), status, Observed(training=run(observed_run)), NOW)
    assert plan.status.phase is Phase.TRAINING
    assert plan.actions == expected_actions
    assert plan.events == ()


def test_first_version_trained_and_validated_is_deployed_as_stable() -> None:
    status = ClickModelStatus(phase=Phase.TRAINING, training=training())
    observed = Observed(training=run(RunState.SUCCEEDED), trained=trained(V2))
    plan = decide(NAME, spec(), status, observed, NOW)
    assert plan.status.phase is Phase.PROMOTING
    assert plan.actions == (Deploy(Role.STABLE, pin(V2), replicas=2),)
    assert reasons(plan) == ["TrainingSucceeded", "Validated", "PromotionStarted"]
    assert plan.status.candidate is not None
    assert {g.name for g in plan.status.candidate.gates} >= {"absolute.minCalibration", "relative.mustBeatBaseline"}
    assert all(g.passed for g in plan.status.candidate.gates)


def test_a_validated_candidate_goes_to_canary_beside_stable() -> None:
    status = serving_status(phase=Phase.TRAINING, training=training())
    observed = Observed(training=run(RunState.SUCCEEDED), trained=trained(V2, evidence(0.95, reference=(V1, 1.0))))
    plan = decide(NAME, spec(), status, observed, NOW)
    assert plan.status.phase is Phase.CANARY
    # Split mode (the default) at 10%: one canary replica beside two stable ones, behind the stable Service.
    assert plan.actions == (Deploy(Role.CANARY, pin(V2), replicas=1, traffic=Traffic.SHARE),)
    assert plan.status.stable == stable()
    assert plan.status.candidate is not None
    assert plan.status.candidate.reference_version == V1


@pytest.mark.parametrize(
    ("ev", "failed_gate"),
    [
        (evidence(1.3, reference=(V1, 1.0)), "relative.mustBeatBaseline"),
        (evidence(1.1, reference=(V1, 1.0)), "relative.maxPoissonDevianceIncrease"),
        (evidence(0.9, reference=(V1, 1.0), calibration=1.4), "absolute.maxCalibration"),
        (evidence(0.9, reference=("v-other", 1.0)), "relative.reference"),
        (evidence(0.9), "relative.reference"),
    ],
    ids=["worse-than-baseline", "worse-than-stable", "miscalibrated", "wrong-reference", "no-reference"],
)
def test_a_rejected_candidate_leaves_stable_untouched(ev: object, failed_gate: str) -> None:
    status = serving_status(phase=Phase.TRAINING, training=training())
    observed = Observed(training=run(RunState.SUCCEEDED), trained=trained(V2, ev), rollouts=SERVING_V1)  # type: ignore[arg-type]
    plan = decide(NAME, spec(), status, observed, NOW)
    assert plan.status.phase is Phase.SERVING
    assert plan.status.stable == stable()
    assert plan.status.candidate is None
    assert not any(isinstance(a, Deploy) for a in plan.actions)
    entry = plan.status.history[0]
    assert (entry.version, entry.decision, entry.reason) == (V2, ReleaseOutcome.REJECTED, "GatesFailed")
    assert failed_gate in {g.name for g in entry.gates}
    assert cond(plan, ConditionType.VALIDATED) == (ConditionStatus.FALSE, "GatesFailed")
    assert "CandidateRejected" in reasons(plan)


@pytest.mark.parametrize("has_stable", [True, False], ids=["with-stable", "first-version"])
def test_a_failed_training_backs_off_and_keeps_stable(has_stable: bool) -> None:
    status = serving_status(phase=Phase.TRAINING, training=training())
    if not has_stable:
        status = status.model_copy(update={"stable": None})
    message = "Job failed: BackoffLimitExceeded (exit code 1): ContractError: no rows"
    plan = decide(NAME, spec(), status, Observed(training=run(RunState.FAILED, message), rollouts=SERVING_V1), NOW)
    assert plan.status.phase is (Phase.SERVING if has_stable else Phase.FAILED)
    assert plan.actions == ()
    t = plan.status.training
    assert t is not None
    assert (t.failures, t.retry_at) == (1, NOW + timedelta(minutes=1))
    assert cond(plan, ConditionType.TRAINED) == (ConditionStatus.FALSE, "TrainingFailed")
    trained_condition = condition(plan.status.conditions, ConditionType.TRAINED)
    assert trained_condition is not None
    assert message in trained_condition.message
    assert plan.status.history[0].decision is ReleaseOutcome.FAILED
    assert plan.status.stable == status.stable
    assert plan.requeue_after == timedelta(minutes=1)
    # Before the retry time nothing starts; at it, a new run (a new version) does.
    early = decide(NAME, spec(), plan.status, Observed(), NOW + timedelta(seconds=30))
    assert not any(isinstance(a, StartTraining) for a in early.actions)
    later = decide(NAME, spec(), plan.status, Observed(), NOW + timedelta(minutes=1))
    assert [type(a) for a in later.actions if isinstance(a, StartTraining)] == [StartTraining]
    assert later.status.training is not None
    assert later.status.training.reason == "Retry"


def test_a_run_that_succeeded_without_publishing_is_a_failure() -> None:
    status = serving_status(phase=Phase.TRAINING, training=training())
    plan = decide(NAME, spec(), status, Observed(training=run(RunState.SUCCEEDED)), NOW)
    assert plan.status.phase is Phase.SERVING
    assert "is not in the store" in plan.status.history[0].message


def canary_status(**extra: object) -> ClickModelStatus:
    return serving_status(**({"phase": Phase.CANARY, "training": training(), "candidate": candidate()} | extra))


def test_canary_waits_for_readiness_then_times_out_into_a_rollback() -> None:
    starting = Rollout(V2, pin(V2).manifest_sha256, desired=1, ready=0, updated=1, traffic=Traffic.SHARE)
    not_ready = Observed(rollouts={Role.STABLE: complete(pin(V1)), Role.CANARY: starting})
    waiting = decide(NAME, spec(), canary_status(), not_ready, NOW + timedelta(minutes=5))
    assert (waiting.status.phase, waiting.actions, waiting.events) == (Phase.CANARY, (), ())
    late = decide(NAME, spec(), canary_status(), not_ready, NOW + timedelta(minutes=11))
    assert late.status.phase is Phase.SERVING
    assert late.actions == (Retire(Role.CANARY),)
    assert late.status.history[0].reason == "CandidateNotReady"
    assert late.status.stable == stable()


CANARY_READY = Observed(
    rollouts={Role.STABLE: complete(pin(V1)), Role.CANARY: complete(pin(V2), 1, traffic=Traffic.SHARE)}
)


def test_manual_approval_promotes_and_approving_stable_rolls_back() -> None:
    ready = CANARY_READY
    manual = {"promotion.mode": "manual"}
    waiting = decide(NAME, spec(**manual), canary_status(), ready, NOW)
    assert waiting.status.canary is not None
    assert (waiting.status.phase, waiting.actions) == (Phase.CANARY, ())
    approved = decide(NAME, spec(**manual, **{"promotion.approvedVersion": V2}), waiting.status, ready, NOW)
    assert approved.status.phase is Phase.PROMOTING
    assert approved.actions == (Deploy(Role.STABLE, pin(V2), replicas=2),)
    refused = decide(NAME, spec(**manual, **{"promotion.approvedVersion": V1}), waiting.status, ready, NOW)
    assert (refused.status.phase, refused.actions) == (Phase.SERVING, (Retire(Role.CANARY),))
    assert refused.status.history[0].reason == "RolledBackByUser"


def test_promotion_completes_when_every_stable_replica_serves_the_candidate() -> None:
    status = canary_status(phase=Phase.PROMOTING)
    half = Rollout(V2, pin(V2).manifest_sha256, desired=2, ready=2, updated=1)
    rolling = Observed(rollouts={Role.STABLE: half, Role.CANARY: complete(pin(V2), 1)})
    wait = decide(NAME, spec(), status, rolling, NOW)
    assert (wait.status.phase, wait.actions) == (Phase.PROMOTING, ())  # asked already; never re-applied mid-rollout
    done = Observed(rollouts={Role.STABLE: complete(pin(V2)), Role.CANARY: complete(pin(V2), 1)})
    plan = decide(NAME, spec(), status, done, NOW)
    assert plan.status.phase is Phase.SERVING
    assert plan.status.stable is not None
    assert plan.status.stable.version == V2
    assert (plan.status.candidate, plan.status.canary) == (None, None)
    assert plan.actions == (Retire(Role.CANARY),)
    assert plan.status.history[0].decision is ReleaseOutcome.PROMOTED
    assert cond(plan, ConditionType.PROMOTED) == (ConditionStatus.TRUE, "CanaryPassed")


def test_canary_verdicts() -> None:
    ready = CANARY_READY
    base = canary_status(canary=CanaryStatus(version=V2, started_at=NOW))
    passed = base.model_copy(update={"canary": CanaryStatus(version=V2, started_at=NOW, verdict=Verdict.PASS)})
    assert decide(NAME, spec(), passed, ready, NOW).status.phase is Phase.PROMOTING
    awaiting = decide(NAME, spec(**{"promotion.mode": "manual"}), passed, ready, NOW)
    assert (awaiting.status.phase, reasons(awaiting)) == (Phase.AWAITING_APPROVAL, ["AwaitingApproval"])
    failed = base.model_copy(update={"canary": CanaryStatus(version=V2, started_at=NOW, verdict=Verdict.FAIL)})
    assert decide(NAME, spec(), failed, ready, NOW).status.history[0].reason == "CanaryFailed"
    timed_out = decide(NAME, spec(), base, ready, NOW + timedelta(hours=24))
    assert (timed_out.status.phase, timed_out.status.history[0].reason) == (Phase.SERVING, "CanaryInconclusive")
    early = decide(NAME, spec(), base, ready, NOW + timedelta(minutes=4))
    assert (early.status.phase, early.actions) == (Phase.CANARY, ())
    assert early.requeue_after == timedelta(minutes=6)  # the first look is due one interval after the start


def test_serving_repairs_a_missing_stable_deployment_and_removes_a_stray_canary() -> None:
    plan = decide(NAME, spec(), serving_status(), Observed(rollouts={Role.CANARY: complete(pin(V2), 1)}), NOW)
    assert set(plan.actions) == {Deploy(Role.STABLE, pin(V1), replicas=2), Retire(Role.CANARY)}
    assert plan.status.phase is Phase.SERVING
    assert cond(plan, ConditionType.READY) == (ConditionStatus.FALSE, "StableNotReady")


def test_serving_rescales_stable_when_spec_serving_replicas_changes() -> None:
    plan = decide(NAME, spec(**{"serving.replicas": 5}), serving_status(), Observed(rollouts=SERVING_V1), NOW)
    assert plan.actions == (Deploy(Role.STABLE, pin(V1), replicas=5),)
    done = Observed(rollouts={Role.STABLE: complete(pin(V1), 5)})
    assert decide(NAME, spec(**{"serving.replicas": 5}), plan.status, done, NOW).actions == ()


def test_triggers_and_spec_changes_retrain() -> None:
    healthy = Observed(rollouts={Role.STABLE: complete(pin(V1))})
    quiet = decide(NAME, spec(), serving_status(), healthy, NOW)
    assert (quiet.actions, quiet.events) == ((), ())
    assert cond(quiet, ConditionType.READY) == (ConditionStatus.TRUE, "Serving")
    triggered = decide(NAME, spec(**{"training.trigger": "2026-11-27"}), serving_status(), healthy, NOW)
    assert triggered.status.training is not None
    assert (triggered.status.phase, triggered.status.training.reason) == (Phase.TRAINING, "Trigger")
    assert triggered.actions == (StartTraining(TRAIN_V2, V2, pin(V1)),)
    changed = decide(NAME, spec(**{"algorithm.xgboost.maxDepth": 4}), serving_status(), healthy, NOW)
    assert changed.status.training is not None
    assert changed.status.training.reason == "SpecChanged"


def test_missed_schedule_fires_run_once() -> None:
    nightly = spec(**{"training.schedule": "0 3 * * *"})
    status = serving_status(training=training(V1, last_schedule_time=NOW - timedelta(days=3),
                                              spec_hash=training_spec_hash(nightly)))  # fmt: skip
    plan = decide(NAME, nightly, status, Observed(rollouts={Role.STABLE: complete(pin(V1))}), NOW + timedelta(hours=2))
    assert [type(a) for a in plan.actions] == [StartTraining]
    assert plan.status.training is not None
    assert plan.status.training.last_schedule_time == NOW  # the latest fire, not one per missed night
    assert plan.status.training.reason == "Schedule"


def test_a_trigger_during_training_is_kept_for_after_it() -> None:
    world = World()
    triggered = spec(**{"training.trigger": "again"})
    status = ClickModelStatus(phase=Phase.TRAINING, training=training())
    world.runs[TRAIN_V2] = RunState.RUNNING
    plan = decide(NAME, triggered, status, world.observe(status), NOW)
    assert not any(isinstance(a, StartTraining) for a in plan.actions)  # never two trainings at once
    world.runs[TRAIN_V2] = RunState.SUCCEEDED
    world.published[V2] = pin(V2)
    final, _ = drive(world, triggered, plan.status, now=NOW + timedelta(minutes=1))
    assert final.training is not None
    assert final.training.reason == "Trigger"
    assert final.training.last_trigger == "again"


def test_batch_mode_scores_only_validated_versions() -> None:
    batch = spec(**{"serving.enabled": False, "scoring": {"dataUrl": "file:///offers", "outputUrl": "file:///out"}})
    world = World()
    final, plans = drive(world, batch, ClickModelStatus())
    assert final.phase is Phase.SERVING
    assert final.stable is not None
    scoring = [a for p in plans for a in p.actions if isinstance(a, StartScoring)]
    assert scoring == [StartScoring(f"{NAME}-score-{final.stable.version}", pin(final.stable.version),
                                    f"file:///out/{final.stable.version}")]  # fmt: skip
    assert not any(isinstance(a, Deploy) for p in plans for a in p.actions)
    # A rejected retrain scores nothing.
    rejected = World(deviance=2.0)
    status = final.model_copy(update={"phase": Phase.SERVING})
    after, plans = drive(rejected, spec(**{"serving.enabled": False, "training.trigger": "x",
                                            "scoring": {"dataUrl": "file:///offers", "outputUrl": "file:///out"}}),
                         status, now=NOW + timedelta(hours=1))  # fmt: skip
    assert not any(isinstance(a, StartScoring) for p in plans for a in p.actions)
    assert after.stable == final.stable
    assert after.history[0].decision is ReleaseOutcome.REJECTED


def test_whole_lifecycle_first_version_then_manual_release() -> None:
    world = World()
    final, _ = drive(world, spec(), ClickModelStatus())
    assert final.phase is Phase.SERVING
    assert final.stable is not None
    first = final.stable.version
    manual = spec(**{"promotion.mode": "manual", "training.trigger": "1"})
    later = NOW + timedelta(days=1)
    world.deviance = 0.9
    canary, _ = drive(world, manual, final, now=later)
    assert canary.phase is Phase.CANARY
    assert canary.candidate is not None
    second = canary.candidate.version
    approved = spec(**{"promotion.mode": "manual", "training.trigger": "1", "promotion.approvedVersion": second})
    done, _ = drive(world, approved, canary, now=later + timedelta(hours=1))
    assert done.phase is Phase.SERVING
    assert done.stable is not None
    assert done.stable.version == second != first
    assert [h.decision for h in done.history] == [ReleaseOutcome.PROMOTED, ReleaseOutcome.PROMOTED]
    assert set(world.rollouts) == {Role.STABLE}


def test_suspend_holds_a_release_in_flight_without_starting_anything() -> None:
    suspended = spec(suspend=True)
    lost_canary = Observed(rollouts=SERVING_V1)
    canary = decide(NAME, suspended, canary_status(), lost_canary, NOW)
    assert (canary.status.phase, canary.actions) == (Phase.CANARY, ())
    lost_run = decide(NAME, suspended, serving_status(phase=Phase.TRAINING, training=training()), Observed(
        training=run(RunState.MISSING), rollouts=SERVING_V1), NOW)  # fmt: skip
    assert (lost_run.status.phase, lost_run.actions) == (Phase.TRAINING, ())
    validated = serving_status(phase=Phase.TRAINING, training=training())
    observed = Observed(training=run(RunState.SUCCEEDED), trained=trained(V2, evidence(0.9, reference=(V1, 1.0))),
                        rollouts=SERVING_V1)  # fmt: skip
    held = decide(NAME, suspended, validated, observed, NOW)
    assert (held.status.phase, held.actions) == (Phase.VALIDATING, ())
    assert cond(held, ConditionType.VALIDATED) == (ConditionStatus.TRUE, "GatesPassed")
    resumed = decide(NAME, spec(), held.status, observed, NOW)
    assert (resumed.status.phase, resumed.actions) == (
        Phase.CANARY,
        (Deploy(Role.CANARY, pin(V2), replicas=1, traffic=Traffic.SHARE),),
    )
