"""What the shell saw, frozen: the only input of `decide` besides the spec, the last status and the time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from clickcast.analysis.evidence import EvaluationReport, TrainingEvidence
from clickcast.api.roles import Role
from clickcast.api.traffic import Traffic
from clickcast.core.plan import Deploy, VersionPin


class RunState(StrEnum):
    """A training or scoring run (a Job, a SparkApplication or a local process)."""

    MISSING = "Missing"
    """No such run exists (not created yet, or deleted)."""
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class RunObservation:
    state: RunState
    message: str = ""
    """Why it failed (the Job's reason and the container's last words), or its progress."""


@dataclass(frozen=True)
class TrainedVersion:
    """A version the training run published: where it is, its manifest checksum, and its evidence."""

    pin: VersionPin
    evidence: TrainingEvidence


@dataclass(frozen=True)
class Rollout:
    """A role's serving workload (a Deployment, or a local process) as observed."""

    version: str | None
    manifest_sha256: str | None
    desired: int = 1
    ready: int = 0
    updated: int = 0
    current: bool = True
    """The workload controller has seen the latest spec (Deployment status.observedGeneration)."""
    traffic: Traffic | None = Traffic.OWN
    """Its part in traffic as configured (None: unknown, so it matches no Deploy and is applied again)."""

    def matches(self, deploy: Deploy) -> bool:
        """Is this workload configured as `deploy` asks (version, traffic, and replicas when given)?"""
        return (
            self.serves(deploy.pin)
            and self.traffic is deploy.traffic
            and (deploy.replicas is None or self.desired == deploy.replicas)
        )

    def serves(self, pin: VersionPin) -> bool:
        """Is this workload asked to serve exactly `pin` (whatever its progress)?"""
        return self.version == pin.version and self.manifest_sha256 == pin.manifest_sha256

    def complete(self, pin: VersionPin) -> bool:
        """Every replica runs `pin` and is ready."""
        return self.serves(pin) and self.current and self.updated >= self.desired and self.ready >= self.desired


@dataclass(frozen=True)
class ServiceHealth:
    """A serving workload's own metrics, summed over its pods since they started."""

    requests: float
    """Requests answered (successes and errors)."""
    server_errors: float
    """Of those, answered with a 5xx."""
    p99_seconds: float | None
    """99th-percentile latency of the successful ones (None: none yet)."""


@dataclass(frozen=True)
class GitPromotion:
    """Where the candidate's promotion stands in Git (`spec.promotion.gitops`)."""

    commit: str | None = None
    """The commit recording it (None: not recorded yet)."""
    merged: bool = False
    """That commit is on the target branch (commit mode: as soon as it is pushed)."""
    branch: str = ""
    """Where it was pushed (the review branch in branch mode)."""
    error: str | None = None
    """Why the last attempt to record it failed."""
    refused: bool = False
    """That failure was a refusal no retry changes (a scheme or host the operator's settings or the Secret do not
    allow): the promotion ends now rather than at its deadline."""


@dataclass(frozen=True)
class Observed:
    """A snapshot of the world around one ClickModel."""

    generation: int = 0
    """metadata.generation of the ClickModel."""
    training: RunObservation | None = None
    """The run named in status.training.jobName (None when status names none)."""
    trained: TrainedVersion | None = None
    """The version status.training.version names, once it is published (read from the store)."""
    scoring: RunObservation | None = None
    """The run named in status.scoring.jobName."""
    evaluation: RunObservation | None = None
    """The evaluation run named in status.canary.jobName (else status.monitoring.jobName)."""
    evaluated: EvaluationReport | None = None
    """That run's report, once it succeeded and its output is readable."""
    git: GitPromotion | None = None
    """While promoting with GitOps: the candidate's promotion in Git."""
    canary_health: ServiceHealth | None = None
    """When a canary look is taken: the canary pods' metrics (None: not reachable, or no look now)."""
    route_weight: int | None = None
    """With spec.canary.gateway: the canary's weight in the model's HTTPRoute (None: no HTTPRoute)."""
    rollouts: Mapping[Role, Rollout] = field(default_factory=dict)
    """Serving workloads by role; a role without one is absent."""
    store_error: str | None = None
    """Why the model store refused a read this snapshot needed (no credentials, access denied): not the same as
    "not written yet". The core says so in the StoreReadable condition and counts it as an evaluation error."""
    blocker: str | None = None
    """Why the spec cannot run here although the API server accepted it (e.g. no filesystem for a URL scheme)."""
