"""What the operator needs of a training backend (the Spark Operator's submitter, as an interface)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from clickcast.core.observed import RunObservation

Doc = dict[str, Any]


@dataclass(frozen=True)
class Watched:
    """A kind the operator watches (by the `clickcast.io/model` label) to wake the ClickModel that owns it."""

    group: str
    version: str
    plural: str


class TrainingBackend(Protocol):
    """Builds a training run's object, reads its state, and says what to watch and which RBAC rules it needs."""

    @property
    def api_version(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def needs_config_map(self) -> bool:
        """The run reads its ClickModel manifest from a ConfigMap of its name (a Job carries it in its pod template)."""
        ...

    @property
    def watched(self) -> Watched:
        """The kind to watch for the run's progress."""
        ...

    @property
    def rules(self) -> Sequence[Doc]:
        """The operator's RBAC rules for it (manifests/rbac/ must grant them; a unit test checks)."""
        ...

    def build(self, *, reference: tuple[str, str] | None, jobs_dir: str, **common: Any) -> Doc:
        """The run's object (`common`: name, namespace, model, version, spec, owner)."""
        ...

    def pod_selector(self, doc: Doc) -> str | None:
        """The pods whose termination messages explain a failure, once it failed (None: none to read)."""
        ...

    def state(self, doc: Doc | None, pods: list[Doc]) -> RunObservation:
        """The run's state (`doc` None: it does not exist)."""
        ...
