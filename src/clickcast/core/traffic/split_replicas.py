"""Split by replicas: canary pods join the stable Service; a step's weight is their share of the replicas."""

from __future__ import annotations

from dataclasses import dataclass

from clickcast.api.roles import Role
from clickcast.api.spec import ClickModelSpec
from clickcast.api.traffic import Traffic
from clickcast.core.plan import Deploy, VersionPin


def split_replicas(stable: int, weight: int) -> int:
    """Canary replicas so that canary / (stable + canary) is closest to `weight` percent (at least one)."""
    return max(1, round(stable * weight / (100 - weight))) if weight < 100 else stable


def effective_weight(stable: int, canary: int) -> int:
    return round(100 * canary / (stable + canary))


@dataclass(frozen=True)
class SplitByReplicas:
    name: str = "split"
    paired: bool = False
    stepped: bool = True
    stable_traffic: Traffic = Traffic.OWN

    def canary(self, spec: ClickModelSpec, pin: VersionPin, step: int) -> Deploy:
        replicas = split_replicas(spec.serving.replicas, spec.canary.steps[step])
        return Deploy(Role.CANARY, pin, replicas=replicas, traffic=Traffic.SHARE)

    def weight(self, spec: ClickModelSpec, step: int) -> int:
        return effective_weight(spec.serving.replicas, split_replicas(spec.serving.replicas, spec.canary.steps[step]))

    def route(self, spec: ClickModelSpec, step: int) -> int:
        return 0

    def step_detail(self, spec: ClickModelSpec, step: int) -> str:
        replicas, stable = split_replicas(spec.serving.replicas, spec.canary.steps[step]), spec.serving.replicas
        return f"{replicas} canary beside {stable} stable replicas, {self.weight(spec, step)}% of traffic"
