"""Properties of the lifecycle core over random walks through reachable states (hypothesis)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickcast.api.roles import Role
from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus, Phase, ReleaseOutcome
from clickcast.core import Deploy, Plan, RunState, StartScoring, StartTraining, decide
from clickcast.core.observed import GitPromotion
from tests.unit.core.core_world import NAME, NOW, World, pin, spec

pytestmark = pytest.mark.unit

STEP = st.fixed_dictionaries(
    {
        "advance": st.sampled_from([1, 30, 600, 3600, 86400]),
        "training": st.sampled_from([RunState.SUCCEEDED, RunState.FAILED, RunState.RUNNING]),
        "scoring": st.sampled_from([RunState.SUCCEEDED, RunState.FAILED]),
        "deviance": st.sampled_from([0.9, 1.0, 1.5]),  # better, equal, worse than the baseline's 1.2
        "ready": st.booleans(),
        "suspend": st.booleans(),
        "manual": st.booleans(),
        "approve": st.sampled_from(["none", "candidate", "stable"]),
        "trigger": st.sampled_from([None, "a", "b"]),
        "batch": st.booleans(),
        "schedule": st.sampled_from([None, "0 3 * * *"]),
        "lose": st.sampled_from([None, None, None, Role.STABLE, Role.CANARY, "run"]),  # deleted behind our back
    }
)


def spec_for(step: dict[str, object], status: ClickModelStatus) -> ClickModelSpec:
    overrides: dict[str, object] = {"suspend": step["suspend"]}
    if step["trigger"] is not None:
        overrides["training.trigger"] = step["trigger"]
    if step["schedule"] is not None:
        overrides["training.schedule"] = step["schedule"]
    if step["batch"]:
        overrides |= {"serving.enabled": False, "scoring": {"dataUrl": "file:///o", "outputUrl": "file:///out"}}
    if step["manual"]:
        overrides["promotion.mode"] = "manual"
        target = {"candidate": status.candidate, "stable": status.stable}.get(str(step["approve"]))
        if target is not None:
            overrides["promotion.approvedVersion"] = target.version
    return spec(**overrides)


def check_step(
    status: ClickModelStatus, spec_: ClickModelSpec, plan: Plan, world: World, *, now: datetime, validated: set[str]
) -> None:
    """Every property of one decision."""
    new = plan.status
    # A version reaches stable, or a stable Deployment, only after passing every gate.
    if new.candidate is not None and new.candidate.gates and all(g.passed for g in new.candidate.gates):
        validated.add(new.candidate.version)
    for action in plan.actions:
        if isinstance(action, Deploy) and action.role is Role.STABLE:
            assert action.pin.version in validated, plan
    if new.stable != status.stable:
        assert new.stable is not None
        assert new.stable.version in validated
        assert new.history[0].decision is ReleaseOutcome.PROMOTED
        assert new.history[0].version == new.stable.version
    # A rejected or failed candidate leaves stable as it was.
    added = new.history[: len(new.history) - len(status.history)] if new.history != status.history else []
    if any(h.decision is not ReleaseOutcome.PROMOTED for h in added):
        assert new.stable == status.stable
    # Never two trainings at once.
    assert sum(isinstance(a, StartTraining) for a in plan.actions) <= 1
    # spec.suspend starts nothing new (a promotion already rolling finishes).
    if spec_.suspend and status.phase is not Phase.PROMOTING:
        for action in plan.actions:
            assert not isinstance(action, StartTraining | StartScoring), plan
            if isinstance(action, Deploy):
                assert action.role is Role.STABLE  # repairing the stable version (as it is after this step)
                assert new.stable is not None
                assert action.pin.version == new.stable.version
    # Idempotence: deciding again on its own output, with nothing new in the world, changes nothing.
    again = decide(NAME, spec_, new, world.observe(new), now)
    assert again.status == new
    assert again.events == ()
    assert set(again.actions) <= set(plan.actions)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=1, max_size=20))
def test_random_walks_keep_every_promise(steps: list[dict[str, object]]) -> None:
    world, status, now, validated = World(), ClickModelStatus(), NOW, set[str]()
    for step in steps:
        world.training_outcome = step["training"]  # type: ignore[assignment]
        world.scoring_outcome = step["scoring"]  # type: ignore[assignment]
        world.deviance = step["deviance"]  # type: ignore[assignment]
        world.rollout_ready = bool(step["ready"])
        if step["lose"] == "run" and world.runs:
            world.runs.pop(sorted(world.runs)[-1])
        elif step["lose"] in world.rollouts:
            world.rollouts.pop(step["lose"])  # type: ignore[call-overload]
        spec_ = spec_for(step, status)
        plan = decide(NAME, spec_, status, world.observe(status), now)
        check_step(status, spec_, plan, world, now=now, validated=validated)
        world.apply(plan, None)
        status, now = plan.status, now + timedelta(seconds=int(step["advance"]))  # type: ignore[call-overload]
        # Reads back what it wrote: status survives the API server's JSON.
        assert ClickModelStatus.model_validate(status.to_wire()) == status

    # From wherever the walk ended there is a way forward: a cooperative world reaches a serving stable version.
    world.training_outcome, world.scoring_outcome, world.deviance, world.rollout_ready = (
        RunState.SUCCEEDED, RunState.SUCCEEDED, 0.9, True)  # fmt: skip
    for run in world.runs:
        if world.runs[run] is RunState.RUNNING:
            world.runs[run] = RunState.SUCCEEDED
            version = run.removeprefix(f"{NAME}-train-")
            world.published.setdefault(version, pin(version))
    forward = spec(**{"training.trigger": "forward"})
    for _ in range(60):
        plan = decide(NAME, forward, status, world.observe(status), now)
        world.apply(plan, None)
        status, now = plan.status, now + timedelta(hours=1)
        if status.phase is Phase.SERVING and status.stable is not None and not plan.actions:
            break
    assert status.phase is Phase.SERVING, status
    assert status.stable is not None
    assert set(world.rollouts) == {Role.STABLE}


PATIENT = (Phase.PENDING, Phase.TRAINING, Phase.SERVING, Phase.FAILED, Phase.SUSPENDED, Phase.AWAITING_APPROVAL)
"""Phases that may last: idle ones, a training (bounded by its Job's activeDeadlineSeconds, which the world
below plays by failing every run) and a human's approval."""


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=1, max_size=15), st.sampled_from(["commit", "branch"]), st.booleans())
def test_nothing_waits_forever_in_a_world_where_everything_fails(
    steps: list[dict[str, object]], mode: str, ready: bool
) -> None:
    """Issue 19: from any reachable state, with Git down, every evaluation run failing and (or not) pods never
    ready, no phase that waits on the world lasts past its deadline (24h, plus the step)."""
    world, status, now = World(), ClickModelStatus(), NOW
    for step in steps:  # somewhere along a random walk
        world.training_outcome = step["training"]  # type: ignore[assignment]
        world.deviance = step["deviance"]  # type: ignore[assignment]
        plan = decide(NAME, spec_for(step, status), status, world.observe(status), now)
        world.apply(plan, None)
        status, now = plan.status, now + timedelta(seconds=int(step["advance"]))  # type: ignore[call-overload]
    # Trainings publish (a new one is triggered), so candidates meet the failing canary and the Git that is down.
    world.training_outcome, world.evaluation_outcome, world.rollout_ready, world.deviance = (
        RunState.SUCCEEDED, RunState.FAILED, ready, 0.9)  # fmt: skip
    world.git = GitPromotion(error="unable to access the remote: connection refused")
    world.runs = {name: RunState.FAILED if state is RunState.RUNNING else state for name, state in world.runs.items()}
    hostile = spec(**{"promotion.gitops": {"repoUrl": "https://git.example.com/r.git", "mode": mode},
                      "training.trigger": "hostile"})  # fmt: skip
    # A phase the walk entered is timed from here: the walk's last step may have passed a day without a decision,
    # which no deadline of the core can shorten.
    failing_since = now
    for _ in range(72):
        plan = decide(NAME, hostile, status, world.observe(status), now)
        world.apply(plan, None)
        status, now = plan.status, now + timedelta(hours=1)
        assert status.phase_since is not None
        lasted = now - max(status.phase_since, failing_since)
        if status.phase not in PATIENT:
            assert lasted <= timedelta(hours=26), (status.phase, status.history[:1])
        if status.phase is Phase.CANARY:  # failing looks end it long before maxDuration: 4 errors, a look an hour
            assert lasted <= timedelta(hours=12)
        assert status.stable is None or status.stable.version in world.published  # stable only ever promoted
