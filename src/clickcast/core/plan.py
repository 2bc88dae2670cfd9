"""What `decide` returns: the new status, the actions to carry out, the Events to emit, when to look again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from clickcast.analysis.evidence import Comparison
from clickcast.api.roles import Role
from clickcast.api.status import CanaryStatus, CandidateStatus, ClickModelStatus, ModelVersionStatus
from clickcast.api.traffic import Traffic
from clickcast.core.events import EventReason


@dataclass(frozen=True)
class VersionPin:
    """A version and the sha256 of its manifest: exactly the bytes that were validated."""

    version: str
    uri: str
    manifest_sha256: str


@dataclass(frozen=True)
class StartTraining:
    """Ensure the training run `name` exists (creating an existing one is a no-op): it publishes `version`."""

    name: str
    version: str
    reference: VersionPin | None
    """The stable version, measured by the run on the candidate's test window for the relative gates."""


@dataclass(frozen=True)
class StartScoring:
    """Ensure the batch-scoring run `name` exists: `pin` scores `spec.scoring.dataUrl` into `output`."""

    name: str
    pin: VersionPin
    output: str


@dataclass(frozen=True)
class StartEvaluation:
    """Ensure the evaluation run `name` exists: the prediction log joined with the real clicks that arrived."""

    name: str
    after: date | None
    """Only offer-days after this one (earlier ones were counted by earlier runs)."""
    compare: Comparison | None = None


@dataclass(frozen=True)
class StopRun:
    """Ensure the training run `name` no longer runs (it outlived its deadline): deleted with its pods.

    A Job stops itself at `training.timeout` (activeDeadlineSeconds); a SparkApplication has no such field.
    """

    name: str


@dataclass(frozen=True)
class Deploy:
    """Ensure `role` serves `pin` (create, or roll the workload to it without dropping ready replicas)."""

    role: Role
    pin: VersionPin
    replicas: int | None = None
    """None: the role's default (stable: spec.serving.replicas; canary: one)."""
    traffic: Traffic = Traffic.OWN
    """Its part in traffic (a canary mode's strategy sets it; each shell maps it once)."""


@dataclass(frozen=True)
class RecordPromotion:
    """Ensure the promotion of `candidate` over `previous` is recorded in Git (`spec.promotion.gitops`).

    Once per version: recording it again finds the commit already there. In branch mode it pushes a
    review branch, and the promotion waits until that is merged.
    """

    candidate: CandidateStatus
    previous: ModelVersionStatus | None
    canary: CanaryStatus | None
    reason: str
    time: datetime
    """When the promotion was decided (the record's time: the same on every retry)."""

    def __hash__(self) -> int:
        return hash((self.candidate.version, self.reason, self.time))


@dataclass(frozen=True)
class Route:
    """Ensure the model's HTTPRoute (spec.canary.gateway) sends `canary_weight` percent to the canary Service."""

    canary_weight: int


@dataclass(frozen=True)
class Retire:
    """Ensure `role` has no serving workload."""

    role: Role


Action = StartTraining | StartScoring | StartEvaluation | StopRun | Deploy | RecordPromotion | Route | Retire


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event on the ClickModel: one per transition."""

    type: EventType
    reason: EventReason
    message: str


@dataclass(frozen=True)
class Plan:
    status: ClickModelStatus
    """The whole new status; the shell writes it before carrying out the actions."""
    actions: tuple[Action, ...] = ()
    """Idempotent 'ensure' steps with deterministic names: carrying one out twice changes nothing."""
    events: tuple[Event, ...] = ()
    requeue_after: timedelta | None = None
    """Look again after this long even if nothing changes (schedules, deadlines, polling)."""
