"""Canary modes as traffic strategies: each mode's decisions, a new (toy) mode added by one class, and every
`Traffic` value mapped by both shells (the operator's Deployment and its observer, `clickcast run`'s endpoints)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from clickcast.api.roles import Role
from clickcast.api.spec import ClickModelSpec, Serving
from clickcast.api.status import ReleaseOutcome
from clickcast.api.traffic import Traffic
from clickcast.core import Deploy, VersionPin, decide
from clickcast.core.traffic import SHADOW, SPLIT_BY_REPLICAS, SPLIT_BY_ROUTE, strategy
from clickcast.core.traffic.split_replicas import effective_weight
from clickcast.local.services import Backend, LocalServices
from clickcast.operator.observe import rollout
from clickcast.serving import manifests
from tests.unit.core.core_world import NAME, NOW, World, complete, pin, spec
from tests.unit.core.test_core_decide import V1, serving_status

pytestmark = pytest.mark.unit

GATEWAY = {"parentRefs": [{"name": "public"}]}


@pytest.mark.parametrize(
    ("overrides", "chosen"),
    [
        ({"canary.mode": "shadow"}, SHADOW),
        ({"canary.mode": "split", "canary.steps": [10, 50]}, SPLIT_BY_REPLICAS),
        ({"canary.mode": "split", "canary.steps": [10, 50], "canary.gateway": GATEWAY}, SPLIT_BY_ROUTE),
    ],
    ids=["shadow", "split-by-replicas", "split-by-route"],
)
def test_each_canary_spec_names_one_strategy(overrides: dict[str, object], chosen: object) -> None:
    assert strategy(spec(**overrides).canary) is chosen


@pytest.mark.parametrize(
    ("mode", "canary", "stable_traffic", "weights", "paired"),
    [
        (SHADOW, Deploy(Role.CANARY, pin("v2"), replicas=1), Traffic.MIRROR, (0, 0), True),
        (SPLIT_BY_REPLICAS, Deploy(Role.CANARY, pin("v2"), replicas=1, traffic=Traffic.SHARE), Traffic.OWN,
         (25, 50), False),
        (SPLIT_BY_ROUTE, Deploy(Role.CANARY, pin("v2"), replicas=1), Traffic.OWN, (10, 50), False),
    ],
    ids=["shadow", "split-by-replicas", "split-by-route"],
)  # fmt: skip
def test_what_each_mode_deploys_and_weighs(
    mode: object, canary: Deploy, stable_traffic: Traffic, weights: tuple[int, int], paired: bool
) -> None:
    s = spec(**{"serving.replicas": 3, "canary.steps": [10, 50]})
    assert mode.canary(s, pin("v2"), 0) == canary  # type: ignore[attr-defined]
    assert mode.stable_traffic is stable_traffic and mode.paired is paired  # type: ignore[attr-defined]
    assert (mode.weight(s, 0), mode.weight(s, 1)) == weights  # type: ignore[attr-defined]


@dataclass(frozen=True)
class OneShared:
    """A toy mode, all of it: one canary replica behind the stable Service, no steps (see docs/canary-modes.md)."""

    name: str = "one-shared"
    paired: bool = False
    stepped: bool = False
    stable_traffic: Traffic = Traffic.OWN

    def canary(self, spec: ClickModelSpec, pin: VersionPin, step: int) -> Deploy:
        return Deploy(Role.CANARY, pin, replicas=1, traffic=Traffic.SHARE)

    def weight(self, spec: ClickModelSpec, step: int) -> int:
        return effective_weight(spec.serving.replicas, 1)

    def route(self, spec: ClickModelSpec, step: int) -> int:
        return 0

    def step_detail(self, spec: ClickModelSpec, step: int) -> str:
        return "one replica"


def test_a_new_mode_is_one_strategy_the_core_drives_through_a_whole_canary() -> None:
    toy, world = OneShared(), World(canary_ratio=0.9)
    world.rollouts[Role.STABLE] = complete(pin(V1), 3)
    s = spec(**{"canary.interval": "1h", "serving.replicas": 3, "training.trigger": "retrain"})
    status, now, plans = serving_status(), NOW, []
    for _ in range(30):
        plan = decide(NAME, s, status, world.observe(status), now, traffic=toy)
        plans.append(plan)
        world.apply(plan, None)
        status, now = plan.status, now + timedelta(minutes=20)
        if status.history:
            break
    deploys = [a for p in plans for a in p.actions if isinstance(a, Deploy) and a.role is Role.CANARY]
    assert deploys and all(d.traffic is Traffic.SHARE and d.replicas == 1 for d in deploys)
    promoted = status.history[0]
    assert promoted.decision is ReleaseOutcome.PROMOTED, promoted
    assert promoted.canary is not None and promoted.canary.weight == 25 and not promoted.canary.sums.pairs


@pytest.mark.parametrize("traffic", list(Traffic))
def test_the_operator_records_each_traffic_on_the_deployment_and_reads_it_back(traffic: Traffic) -> None:
    role = Role.STABLE if traffic is Traffic.MIRROR else Role.CANARY
    dep = manifests.deployment(model="offers", version="v2", model_uri="s3://m/v2", manifest_sha256="ab" * 32,
                               role=role, serving=Serving(image="serving:1"), namespace="ads", prediction_log_url="s3://p",
                               shadow_url="http://offers-canary" if traffic is Traffic.MIRROR else None,
                               traffic=traffic)  # fmt: skip
    found = rollout(dep)
    assert found is not None and found.traffic is traffic
    del dep["metadata"]["annotations"][manifests.TRAFFIC_ANNOTATION]
    unknown = rollout(dep)
    assert unknown is not None and unknown.traffic is None, "not recorded: matches no Deploy, so it is applied again"
    assert not unknown.matches(Deploy(role, pin("v2"), traffic=traffic))


@pytest.mark.parametrize("traffic", list(Traffic))
def test_clickcast_run_maps_each_traffic_to_its_endpoints(traffic: Traffic, tmp_path: Path) -> None:
    services = LocalServices(tmp_path)
    role = Role.STABLE if traffic is Traffic.MIRROR else Role.CANARY
    backend = Backend(role, pin("v2"), traffic, replicas=1, port=1, child=None)  # type: ignore[arg-type]
    services.active[role] = backend
    behind_stable = [t.url for t in services._stable_targets()]
    assert (backend.url in behind_stable) is (role is Role.STABLE or traffic is Traffic.SHARE)
    assert backend.same_process(Deploy(role, pin("v2"), traffic=traffic))
    assert not backend.same_process(Deploy(role, pin("v2"), traffic=next(t for t in Traffic if t is not traffic)))
