"""Status conditions by the Kubernetes convention: lastTransitionTime moves only when status changes."""

from __future__ import annotations

from datetime import datetime

from clickcast.api.status import Condition, ConditionStatus, ConditionType


def set_condition(
    conditions: list[Condition],
    type_: ConditionType,
    status: bool | None,
    reason: str,
    message: str,
    *,
    generation: int,
    now: datetime,
) -> list[Condition]:
    """`conditions` with `type_` set (True/False, None for Unknown); other types keep their order."""
    value = ConditionStatus.UNKNOWN if status is None else ConditionStatus(str(status))
    old = next((c for c in conditions if c.type == type_), None)
    changed = old is None or old.status != value
    new = Condition(
        type=type_,
        status=value,
        reason=reason,
        message=message[:2000],
        observed_generation=generation,
        last_transition_time=now if changed or old is None else old.last_transition_time,
    )
    if old is None:
        return [*conditions, new]
    return [new if c.type == type_ else c for c in conditions]


def condition(conditions: list[Condition], type_: ConditionType) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)
