"""Reconciliations that keep failing: the ReconcileError condition and its Events. Purely computational.

A refusal to touch an object the ClickModel does not own is said at once, with its own reason
(`not_owned`).

A shell counts the failures of one ClickModel in a row (an exception anywhere in observe, decide, record or
act); after `limit` of them it asks `reconcile_failed` for the status to write, and after a reconciliation that
went through, `reconciled`. The shell keeps retrying with backoff either way: the condition makes a model stuck
on a fault visible (`kubectl get`, alerts), it does not give up on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from clickcast.api.status import ClickModelStatus, ConditionStatus, ConditionType
from clickcast.core.conditions import condition
from clickcast.core.draft import Draft
from clickcast.core.events import EventReason
from clickcast.core.plan import Plan

MESSAGE_LIMIT = 300
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_SECRET_VALUE = re.compile(r"(?i)\b(password|passwd|token|secret|key|credentials?|authorization)(\s*[=:]\s*)\S+")
_REASON = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class Failure:
    """What a failed reconciliation says of itself: the condition's reason and message."""

    reason: str
    """The exception's type, e.g. NoCredentialsError."""
    message: str
    """One short line, with anything that looks like a credential masked."""

    @classmethod
    def of(cls, kind: str, text: str, *, status: int | None = None, http_reason: str | None = None) -> Failure:
        """From an exception's type name and text (an HTTP error: its status and reason, not its body)."""
        reason = _REASON.sub("", kind)
        if not reason or not reason[0].isalpha():
            reason = "Error"
        if status is not None:
            line = f"HTTP {status} {http_reason or ''}".strip()
        else:
            line = next((part.strip() for part in text.strip().splitlines() if part.strip()), "")
        line = _SECRET_VALUE.sub(r"\1\2***", _USERINFO.sub("***@", line))
        if len(line) > MESSAGE_LIMIT:
            line = line[: MESSAGE_LIMIT - 1] + "…"
        return cls(reason[:100], line)


def reconcile_failed(
    status: ClickModelStatus, failure: Failure, *, streak: int, limit: int, generation: int, now: datetime
) -> Plan:
    """The status after the `streak`-th failed reconciliation in a row: from the `limit`-th on, ReconcileError=True.

    The condition turns True (or changes reason) with one warning Event; before `limit`, and while it already
    says True for the same reason, nothing changes: every status write wakes the ClickModel's watch, so
    rewriting it on each failure would retry at once, not after the backoff.
    """
    d = Draft(status.model_copy(deep=True), generation, now)
    old = condition(d.status.conditions, ConditionType.RECONCILE_ERROR)
    said = old is not None and old.status is ConditionStatus.TRUE and old.reason == failure.reason
    if streak < max(1, limit) or said:
        return d.plan()
    message = f"{streak} reconciliations in a row failed, retried with backoff; the last: {failure.message}"
    if d.condition(ConditionType.RECONCILE_ERROR, True, failure.reason, message):
        d.event(EventReason.RECONCILE_ERROR, f"{failure.reason}: {message}", warning=True)
    return d.plan()


def not_owned(status: ClickModelStatus, refusal: str, *, generation: int, now: datetime) -> Plan:
    """The status after a reconciliation that refused to touch objects this ClickModel does not own.

    ReconcileError=True with reason ResourceNotOwned at once (no `limit`: retrying does not heal a name taken by
    someone else, a person does), and one warning Event per distinct refusal; `refusal` names the objects.
    """
    d = Draft(status.model_copy(deep=True), generation, now)
    old = condition(d.status.conditions, ConditionType.RECONCILE_ERROR)
    said = old is not None and old.status is ConditionStatus.TRUE and (old.reason, old.message) == (
        EventReason.RESOURCE_NOT_OWNED.value, refusal)  # fmt: skip
    if not said:
        d.condition(ConditionType.RECONCILE_ERROR, True, EventReason.RESOURCE_NOT_OWNED, refusal)
        d.event(EventReason.RESOURCE_NOT_OWNED, refusal, warning=True)
    return d.plan()


def reconciled(status: ClickModelStatus, *, generation: int, now: datetime) -> Plan:
    """The status after a reconciliation that went through: ReconcileError=True turns False, with one Event."""
    d = Draft(status.model_copy(deep=True), generation, now)
    old = condition(d.status.conditions, ConditionType.RECONCILE_ERROR)
    if old is not None and old.status is not ConditionStatus.FALSE:
        d.condition(ConditionType.RECONCILE_ERROR, False, "Reconciled", "the last reconciliation went through")
        d.event(EventReason.RECONCILED, f"reconciling again after {old.reason}")
    return d.plan()
