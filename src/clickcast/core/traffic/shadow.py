"""Shadow: stable copies each request to one canary replica, which answers nobody; evidence is paired."""

from __future__ import annotations

from dataclasses import dataclass

from clickcast.api.roles import Role
from clickcast.api.spec import ClickModelSpec
from clickcast.api.traffic import Traffic
from clickcast.core.plan import Deploy, VersionPin


@dataclass(frozen=True)
class Shadow:
    name: str = "shadow"
    paired: bool = True
    stepped: bool = False
    stable_traffic: Traffic = Traffic.MIRROR

    def canary(self, spec: ClickModelSpec, pin: VersionPin, step: int) -> Deploy:
        return Deploy(Role.CANARY, pin, replicas=1)

    def weight(self, spec: ClickModelSpec, step: int) -> int:
        return 0

    def route(self, spec: ClickModelSpec, step: int) -> int:
        return 0

    def step_detail(self, spec: ClickModelSpec, step: int) -> str:
        return "mirrored"
