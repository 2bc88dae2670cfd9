"""`decide`: what to do next for one ClickModel. Purely computational: no side effects, no clock, no I/O.

Dispatches on `status.phase` to one function per phase (as the Spark Operator does per state). A phase
function edits a private copy of the status, asks for actions and Events, and may move to another phase;
the next phase's function then runs in the same call, until a phase stays put or asks the world for
something the next phase would need to observe (idle phases read only the workloads, so they follow at
once). The shell writes the new status first, then carries out the actions, so a restarted operator
finds its intent in status and the same deterministic names in the cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from clickcast.api.roles import Role
from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus, ConditionType, Phase
from clickcast.core import monitoring, release, training
from clickcast.core.conditions import condition
from clickcast.core.draft import Context, Draft
from clickcast.core.events import EventReason
from clickcast.core.observed import Observed
from clickcast.core.plan import Plan, Retire, Route
from clickcast.core.traffic import TrafficStrategy, stable_deploy, strategy
from clickcast.core.training import POLL, stable_pin

PhaseFunction = Callable[[Context, Draft], None]
IDLE = frozenset({Phase.PENDING, Phase.SERVING, Phase.FAILED, Phase.SUSPENDED})
"""Phases whose functions read no run and no published version, only the serving workloads."""
MAX_STEPS = 6
"""Phase functions one call may chain (Pending → Training is one step; nothing legitimately needs more)."""


def decide(
    name: str,
    spec: ClickModelSpec,
    status: ClickModelStatus,
    observed: Observed,
    now: datetime,
    *,
    traffic: TrafficStrategy | None = None,
) -> Plan:
    """The next status, actions, Events and requeue time of ClickModel `name`. Pure and deterministic.

    `traffic`: the canary mode's strategy (default: the one `spec.canary` names; tests pass a mode of their own).
    """
    ctx = Context(name, spec, observed, now, traffic or strategy(spec.canary))
    d = Draft(status.model_copy(deep=True), observed.generation, now)
    for _ in range(MAX_STEPS):
        phase, acted = d.status.phase, len(d.actions)
        PHASES[phase](ctx, d)
        if d.status.phase is phase:
            break
        if len(d.actions) > acted and d.status.phase not in IDLE:
            break  # the next phase would read runs and rollouts this snapshot did not see
    else:
        raise AssertionError(f"phase functions did not settle: {d.status.phase}")  # a bug, not a state
    _ready(ctx, d)
    _store_readable(ctx, d)
    d.status.observed_generation = observed.generation
    if d.status.phase is not status.phase or d.status.phase_since is None:
        d.status.phase_since = now
    return d.plan()


def invalid_spec(status: ClickModelStatus, message: str, *, generation: int, now: datetime) -> Plan:
    """A spec the API server accepted but clickcast cannot read (e.g. a cron only croniter refuses).

    Nothing starts or stops; Ready says why, once, until the spec is fixed.
    """
    d = Draft(status.model_copy(deep=True), generation, now)
    if d.condition(ConditionType.READY, False, "InvalidSpec", message):
        d.event(EventReason.INVALID_SPEC, message, warning=True)
    if d.status.stable is None and d.status.phase is Phase.PENDING:
        d.to(Phase.FAILED)
        d.status.phase_since = now
    d.status.observed_generation = generation
    return d.plan()


def pending(ctx: Context, d: Draft) -> None:
    """Phase Pending: a new ClickModel trains its first version."""
    if ctx.spec.suspend:
        _suspend(d)
        return
    training.start_training(ctx, d, training.Reason.CREATED)


def idle(ctx: Context, d: Draft) -> None:
    """Phases Serving and Failed: keep the stable version serving; train when due."""
    if ctx.spec.suspend:
        _suspend(d)
        keep_serving(ctx, d)
        return
    keep_serving(ctx, d)
    reason = training.training_due(ctx, d.status)
    if reason is not None:
        training.start_training(ctx, d, reason)
    else:
        training.wake_for_schedule(ctx, d)
        if d.status.phase is Phase.SERVING:
            monitoring.monitor(ctx, d)


def suspended(ctx: Context, d: Draft) -> None:
    """Phase Suspended: nothing new starts; the stable version keeps serving until spec.suspend is cleared."""
    if ctx.spec.suspend:
        keep_serving(ctx, d)
        return
    d.to(Phase.SERVING if d.status.stable else Phase.PENDING if d.status.training is None else Phase.FAILED)
    d.event(EventReason.RESUMED, "spec.suspend cleared")


def _suspend(d: Draft) -> None:
    d.to(Phase.SUSPENDED)
    d.event(EventReason.SUSPENDED, "spec.suspend is set: nothing new starts; the stable version keeps serving")


def keep_serving(ctx: Context, d: Draft) -> None:
    """Converge the serving workloads of an idle ClickModel: stable as recorded, no canary."""
    rollouts, pin = ctx.observed.rollouts, stable_pin(d.status)
    if ctx.spec.serving.enabled and pin is not None:
        stable = rollouts.get(Role.STABLE)
        deploy = stable_deploy(ctx.spec, pin)
        if stable is None or not stable.matches(deploy):
            d.act(deploy)  # repair, undo a change made behind our back, stop mirroring, or rescale
            d.wake(POLL)
        elif not stable.complete(pin):
            d.wake(POLL)
    elif Role.STABLE in rollouts and not ctx.spec.serving.enabled:
        d.act(Retire(Role.STABLE))  # switched to batch mode
    if Role.CANARY in rollouts:
        d.act(Retire(Role.CANARY))  # no candidate in flight: a leftover
    gateway = ctx.spec.canary.gateway is not None and ctx.spec.serving.enabled and pin is not None
    if gateway and ctx.observed.route_weight != 0 and not ctx.spec.suspend:
        d.act(Route(0))  # every request to stable


def _ready(ctx: Context, d: Draft) -> None:
    """The Ready condition: a stable version answers (or, in batch mode, has scored)."""
    stable = d.status.stable
    if stable is None:
        message = "no version has passed validation yet"
        d.condition(ConditionType.READY, False, "NoStableVersion", message)
    elif not ctx.spec.serving.enabled:
        d.condition(ConditionType.READY, True, "Scored", f"{stable.version} is the validated version")
    else:
        rollout = ctx.observed.rollouts.get(Role.STABLE)
        if rollout is not None and rollout.ready > 0:
            message = f"{stable.version} serves; {rollout.ready}/{rollout.desired} replicas ready"
            d.condition(ConditionType.READY, True, "Serving", message)
        else:
            d.condition(ConditionType.READY, False, "StableNotReady", f"{stable.version} has no ready replica")


def _store_readable(ctx: Context, d: Draft) -> None:
    """The StoreReadable condition: False while the store refuses a read the lifecycle waits on (once an Event).

    It appears with the first refusal; a snapshot without one sets it True again.
    """
    error = ctx.observed.store_error
    if error is not None:
        if d.condition(ConditionType.STORE_READABLE, False, "StoreRefused", error):
            d.event(EventReason.STORE_REFUSED, f"the model store refused a read: {error}", warning=True)
    elif condition(d.status.conditions, ConditionType.STORE_READABLE) is not None and d.condition(
        ConditionType.STORE_READABLE, True, "StoreReadable", "the model store answers"
    ):
        d.event(EventReason.STORE_READABLE, "the model store answers again")


PHASES: dict[Phase, PhaseFunction] = {
    Phase.PENDING: pending,
    Phase.TRAINING: training.training,
    Phase.VALIDATING: release.validating,
    Phase.CANARY: release.canary,
    Phase.AWAITING_APPROVAL: release.canary,
    Phase.PROMOTING: release.promoting,
    Phase.SCORING: release.scoring,
    Phase.SERVING: idle,
    Phase.FAILED: idle,
    Phase.SUSPENDED: suspended,
}
