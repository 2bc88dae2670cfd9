"""What a canary mode decides about traffic (Flagger's router, as data): one implementation per mode."""

from __future__ import annotations

from typing import Protocol

from clickcast.api.roles import Role
from clickcast.api.spec import ClickModelSpec
from clickcast.api.traffic import Traffic
from clickcast.core.plan import Deploy, VersionPin


class TrafficStrategy(Protocol):
    """A canary mode: how stable and canary are deployed, what a step weighs, the route, whether evidence pairs.

    Purely computational. A new mode is one module implementing this, registered in `clickcast.core.traffic`,
    and one mapping of its `Traffic` values in each shell (see docs/canary-modes.md).
    """

    @property
    def name(self) -> str:
        """The mode's name (Events, docs)."""
        ...

    @property
    def paired(self) -> bool:
        """Both versions predict the same requests (shadow): the test compares pairs, not two samples."""
        ...

    @property
    def stepped(self) -> bool:
        """Healthy looks move the canary through `spec.canary.steps`."""
        ...

    @property
    def stable_traffic(self) -> Traffic:
        """Stable's part while a canary is ready (OWN: stable is left as it serves outside a canary)."""
        ...

    def canary(self, spec: ClickModelSpec, pin: VersionPin, step: int) -> Deploy:
        """The canary's workload at `step`."""
        ...

    def weight(self, spec: ClickModelSpec, step: int) -> int:
        """The share of requests (percent) the canary answers at `step` (0: it answers nobody)."""
        ...

    def route(self, spec: ClickModelSpec, step: int) -> int:
        """The canary's weight in the model's HTTPRoute at `step` (kept only with `spec.canary.gateway`)."""
        ...

    def step_detail(self, spec: ClickModelSpec, step: int) -> str:
        """How `step`'s weight is made, for its CanaryWeight Event."""
        ...


def stable_deploy(spec: ClickModelSpec, pin: VersionPin, traffic: Traffic = Traffic.OWN) -> Deploy:
    """The stable workload: `spec.serving.replicas` replicas of `pin`."""
    return Deploy(Role.STABLE, pin, replicas=spec.serving.replicas, traffic=traffic)
