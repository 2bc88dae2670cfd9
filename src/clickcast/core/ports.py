"""The shell's side of the core: small Protocols a Kubernetes operator and the embedded runner both implement.

`step` is the one loop both run: observe → decide → write status (intent first) → emit Events →
carry out actions. Carrying out an action twice must change nothing (deterministic names, create-or-
adopt, apply), which is what makes a restart at any point safe.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus
from clickcast.core.decide import decide
from clickcast.core.observed import Observed
from clickcast.core.plan import Action, Event, Plan


class Observer(Protocol):
    async def observe(self, name: str, spec: ClickModelSpec, status: ClickModelStatus) -> Observed:
        """A snapshot of the runs, the published version and the workloads that `status` refers to."""


class Executor(Protocol):
    async def apply(self, name: str, spec: ClickModelSpec, action: Action) -> None:
        """Carry out one action idempotently."""


class Recorder(Protocol):
    async def write_status(self, name: str, status: ClickModelStatus) -> None:
        """Persist the new status (the status subresource, or a file)."""

    async def emit(self, name: str, event: Event) -> None:
        """Publish an Event (a Kubernetes Event, or a log line)."""


async def step(
    name: str,
    spec: ClickModelSpec,
    status: ClickModelStatus,
    now: datetime,
    *,
    observer: Observer,
    executor: Executor,
    recorder: Recorder,
) -> Plan:
    """One reconciliation of ClickModel `name`; returns the plan it carried out."""
    observed = await observer.observe(name, spec, status)
    plan = decide(name, spec, status, observed, now)
    if plan.status != status:
        await recorder.write_status(name, plan.status)
    for event in plan.events:
        await recorder.emit(name, event)
    for action in plan.actions:
        await executor.apply(name, spec, action)
    return plan
