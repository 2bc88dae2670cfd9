"""Typed evidence: what the jobs measure and what the validation gates, the canary and monitoring read.

Two documents, both written as JSON by the Spark jobs:

- `TrainingEvidence`, a version's `metrics.json`: the model and its GLM baseline on the test window, per
  segment, and (when a stable version existed) that stable version measured on the same window.
- `EvaluationReport`, an evaluation run's `metrics.json`: logged predictions joined with the real clicks,
  per version and role, per segment and per day; with the window it covered (offer-days after `after`,
  through `through`) and, when asked to compare two versions, the canary test's new sufficient statistics.

Readers ignore fields they do not know, so a newer job's output stays readable by an older operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from pydantic import ConfigDict, Field

from clickcast.api.base import ApiModel
from clickcast.api.roles import Role
from clickcast.api.status import CanaryDaySums, CanarySums, DataWindowStatus, Metrics, SegmentMetrics


class Evidence(ApiModel):
    model_config = ConfigDict(extra="ignore")


class ReferenceEvidence(Evidence):
    """The stable version, re-measured on the candidate's test window (what relative gates compare with)."""

    version: str
    manifest_sha256: str | None = Field(default=None, alias="checksum")
    metrics: Metrics
    segments: list[SegmentMetrics] = Field(default_factory=list)


class TrainingEvidence(Evidence):
    """A version's `metrics.json`."""

    model: Metrics
    baseline: Metrics
    segments: list[SegmentMetrics] = Field(default_factory=list)
    baseline_segments: list[SegmentMetrics] = Field(default_factory=list)
    window: DataWindowStatus = Field(default_factory=DataWindowStatus)
    algorithm: str = ""
    reference: ReferenceEvidence | None = None


class BadRowReport(Evidence):
    """Rows a job refused, by reason, with a few examples."""

    total: Annotated[int, Field(ge=0)] = 0
    reasons: dict[str, int] = Field(default_factory=dict)
    examples: list[dict[str, Any]] = Field(default_factory=list)


class VersionKey(Evidence):
    model: str
    model_version: str
    role: Role


class VersionMetrics(VersionKey):
    metrics: Metrics


class VersionSegmentMetrics(VersionKey):
    column: str
    value: str
    metrics: Metrics


class VersionDailyMetrics(VersionKey):
    date: str
    metrics: Metrics


@dataclass(frozen=True)
class Comparison:
    """The canary's two versions, for an evaluation run to sum the sequential test's statistics."""

    stable: str
    candidate: str
    paired: bool
    """Shadow mode: pair both versions' predictions of the same request (and offer)."""


class CanaryComparison(Evidence):
    """What one canary look measured for the sequential test: sums over the offer-days it saw, and per day."""

    stable_version: str
    candidate_version: str
    paired: bool
    """Shadow mode: each candidate prediction is paired with the stable one for the same request and offer."""
    sums: CanarySums
    daily: list[CanaryDaySums] = Field(default_factory=list)
    """`sums` per offer-day, oldest first (a report without them: `sums` is all new evidence)."""


class EvaluationReport(Evidence):
    """An evaluation run's `metrics.json`."""

    rows: Annotated[int, Field(ge=0)]
    """Logged predictions that found their real clicks."""
    unmatched: Annotated[int, Field(ge=0)]
    """Logged predictions whose offer-day has no clicks yet."""
    bad_rows: BadRowReport = Field(default_factory=BadRowReport)
    versions: list[VersionMetrics] = Field(default_factory=list)
    segments: list[VersionSegmentMetrics] = Field(default_factory=list)
    daily: list[VersionDailyMetrics] = Field(default_factory=list)
    after: date | None = None
    """Only offer-days after this day were evaluated (those before were counted by earlier runs)."""
    through: date | None = None
    """The last offer-day with real clicks it included (None: none yet)."""
    comparison: CanaryComparison | None = None
    """The canary's stable and candidate versions compared on these offer-days."""

    def version(self, model_version: str, role: Role) -> VersionMetrics | None:
        return next((v for v in self.versions if v.model_version == model_version and v.role is role), None)
