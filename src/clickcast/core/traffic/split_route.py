"""Split by HTTPRoute (`spec.canary.gateway`): one canary replica behind its own Service, weighed by the route."""

from __future__ import annotations

from dataclasses import dataclass

from clickcast.api.roles import Role
from clickcast.api.spec import ClickModelSpec
from clickcast.api.traffic import Traffic
from clickcast.core.plan import Deploy, VersionPin


@dataclass(frozen=True)
class SplitByRoute:
    name: str = "split-route"
    paired: bool = False
    stepped: bool = True
    stable_traffic: Traffic = Traffic.OWN

    def canary(self, spec: ClickModelSpec, pin: VersionPin, step: int) -> Deploy:
        return Deploy(Role.CANARY, pin, replicas=1)

    def weight(self, spec: ClickModelSpec, step: int) -> int:
        return spec.canary.steps[step]

    def route(self, spec: ClickModelSpec, step: int) -> int:
        return spec.canary.steps[step]

    def step_detail(self, spec: ClickModelSpec, step: int) -> str:
        return "HTTPRoute"
