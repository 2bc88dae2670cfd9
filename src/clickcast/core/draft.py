"""The working copy one `decide` call edits, and the Plan it becomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus, ConditionType, HistoryEntry, Phase
from clickcast.core.conditions import condition, set_condition
from clickcast.core.events import EventReason
from clickcast.core.observed import Observed
from clickcast.core.plan import Action, Event, EventType, Plan
from clickcast.core.traffic import TrafficStrategy

HISTORY_LIMIT = 50


@dataclass(frozen=True)
class Context:
    """The inputs of one decision besides the status."""

    name: str
    spec: ClickModelSpec
    observed: Observed
    now: datetime
    traffic: TrafficStrategy
    """The canary mode's strategy (`clickcast.core.traffic.strategy` of the spec)."""


@dataclass
class Draft:
    """A private deep copy of the status, and what the phase functions add to the plan."""

    status: ClickModelStatus
    generation: int
    now: datetime
    actions: list[Action] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    wakes: list[timedelta] = field(default_factory=list)

    def to(self, phase: Phase) -> None:
        self.status.phase = phase

    def act(self, action: Action) -> None:
        if action not in self.actions:
            self.actions.append(action)

    def event(self, reason: EventReason, message: str, *, warning: bool = False) -> None:
        self.events.append(Event(EventType.WARNING if warning else EventType.NORMAL, reason, message))

    def wake(self, after: timedelta) -> None:
        self.wakes.append(max(after, timedelta(seconds=1)))

    def condition(self, type_: ConditionType, value: bool | None, reason: str, message: str) -> bool:
        """Set a condition; True if its status or reason changed (a transition worth an Event)."""
        old = condition(self.status.conditions, type_)
        self.status.conditions = set_condition(
            self.status.conditions, type_, value, reason, message, generation=self.generation, now=self.now
        )
        new = condition(self.status.conditions, type_)
        return old is None or new is None or (old.status, old.reason) != (new.status, new.reason)

    def record(self, entry: HistoryEntry) -> None:
        self.status.history = [entry, *self.status.history][:HISTORY_LIMIT]

    def plan(self) -> Plan:
        return Plan(
            status=self.status,
            actions=tuple(self.actions),
            events=tuple(self.events),
            requeue_after=min(self.wakes) if self.wakes else None,
        )
