"""Whose object is it: the rule the operator follows before it applies or deletes anything. Purely computational.

A ClickModel named `offers` works on objects of deterministic names (`offers-stable`, `offers-canary`, the
HTTPRoute `offers`, its runs). An object of such a name that already exists is clickcast's to change or delete
only if it carries this ClickModel's owner reference as its controller (what clickcast writes on everything it
creates); anything else (a team's own Deployment, an object of another controller, one left by an earlier
ClickModel of the same name) is refused, neither taken over by server-side apply nor deleted by name, and the
refusal is reported on the ClickModel (ReconcileError, reason ResourceNotOwned). Adoption is explicit: an object
becomes clickcast's when someone gives it the owner reference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OwnerReferences = Sequence[Mapping[str, Any]] | None
"""metadata.ownerReferences as the API server returns it (absent: None)."""


def controller_of(owner_references: OwnerReferences) -> Mapping[str, Any] | None:
    """The owner reference marked `controller: true` (the API server allows at most one), or None."""
    return next((ref for ref in owner_references or () if ref.get("controller") is True), None)


def may_touch(owner_references: OwnerReferences, uid: str) -> bool:
    """Whether an existing object with these owner references is the ClickModel `uid`'s to change or delete.

    Only a controller reference to `uid` counts: a plain (non-controller) reference says the object depends on
    the ClickModel, not that clickcast manages it.
    """
    found = controller_of(owner_references)
    return found is not None and bool(uid) and found.get("uid") == uid


@dataclass(frozen=True)
class Foreign:
    """An object clickcast would have applied or deleted, found to belong to someone else."""

    kind: str
    namespace: str
    name: str
    controller: str | None
    """Its controller, as `Kind/name`; None when it has none."""
    verb: str
    """What was refused: "apply" or "delete"."""

    @classmethod
    def of(cls, doc: Mapping[str, Any], verb: str) -> Foreign:
        meta = doc.get("metadata") or {}
        ref = controller_of(meta.get("ownerReferences"))
        controller = f"{ref.get('kind')}/{ref.get('name')} (uid {ref.get('uid')})" if ref is not None else None
        return cls(str(doc.get("kind")), str(meta.get("namespace")), str(meta.get("name")), controller, verb)

    def __str__(self) -> str:
        whose = f"is controlled by {self.controller}" if self.controller else "has no controller"
        done = "changed" if self.verb == "apply" else "deleted"
        return f"{self.kind} {self.namespace}/{self.name} exists and {whose}, not this ClickModel: not {done}"


class NotOwned(Exception):  # noqa: N818 - a refusal, reported on the ClickModel as ResourceNotOwned
    """The operator refused to apply or delete objects it does not own; the reconciliation is retried with backoff."""

    def __init__(self, refused: Sequence[Foreign]) -> None:
        self.refused = tuple(refused)
        super().__init__(message(self.refused))


def message(refused: Sequence[Foreign]) -> str:
    """One line naming every refused object, and what to do about it."""
    objects = "; ".join(dict.fromkeys(str(f) for f in refused))
    return (
        f"{objects}. Rename the ClickModel, remove the object, or give it this ClickModel's owner reference "
        "(controller: true) for clickcast to adopt it"
    )
