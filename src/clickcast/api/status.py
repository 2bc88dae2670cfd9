"""`ClickModel.status`: what the operator observed and decided.

The phase is a summary for humans (`kubectl get`); decisions are driven by
the structured fields and conditions, so a restarted operator can resume
from status alone.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from clickcast.api.base import ApiModel


class Phase(StrEnum):
    PENDING = "Pending"
    """Accepted; no model trained yet."""
    TRAINING = "Training"
    """A training run is in progress."""
    VALIDATING = "Validating"
    """A candidate was trained; its metrics are checked against the gates."""
    CANARY = "Canary"
    """The candidate serves beside the stable version and is compared on real clicks."""
    AWAITING_APPROVAL = "AwaitingApproval"
    """The canary passed; manual promotion waits for `spec.promotion.approvedVersion`."""
    PROMOTING = "Promoting"
    """The candidate becomes stable; the promotion is being recorded."""
    SCORING = "Scoring"
    """Batch mode: the validated version scores `spec.scoring.dataUrl` into `spec.scoring.outputUrl`."""
    SERVING = "Serving"
    """A stable version serves (in batch mode: scored its run) and nothing is in flight."""
    FAILED = "Failed"
    """No version can serve (the first training failed or was rejected, or the spec cannot run); see conditions."""
    SUSPENDED = "Suspended"
    """`spec.suspend` is set: nothing new starts; the stable version keeps serving."""


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    READY = "Ready"
    """A stable version is serving."""
    TRAINED = "Trained"
    """The latest training run succeeded."""
    VALIDATED = "Validated"
    """The latest candidate passed its gates."""
    PROMOTED = "Promoted"
    """The latest candidate was promoted (False after a rollback)."""
    HEALTHY = "Healthy"
    """The stable version's quality on real clicks is within limits."""
    STORE_READABLE = "StoreReadable"
    """The model store answers the operator's reads (False: it refused one, e.g. no credentials or access denied)."""
    RECONCILE_ERROR = "ReconcileError"
    """True: the last reconciliations failed in a row (reason: the error's type); they are retried with backoff."""


class Condition(ApiModel):
    """The Kubernetes condition convention (metav1.Condition)."""

    type: Annotated[str, Field(min_length=1, max_length=316)]
    """Condition type, e.g. Ready."""
    status: ConditionStatus
    """True, False or Unknown."""
    reason: Annotated[str, Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024)]
    """CamelCase reason for the last transition."""
    message: Annotated[str, Field(max_length=32768)] = ""
    """Human-readable detail."""
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """metadata.generation the condition was computed from."""
    last_transition_time: datetime
    """When status last changed."""


class Metrics(ApiModel):
    """Quality of predictions against real clicks on one set of rows."""

    rows: Annotated[int, Field(ge=0)] = 0
    """Rows (offer-days) measured."""
    mae: float | None = None
    """Mean absolute error."""
    rmse: float | None = None
    """Root mean squared error."""
    poisson_deviance: float | None = None
    """Mean Poisson deviance (lower is better)."""
    calibration: float | None = None
    """sum(predicted) / sum(actual); 1 is perfect."""
    margin: float | None = None
    """Business margin under the spec's revenue model, in currency units per 1,000 offer-days."""


class SegmentMetrics(ApiModel):
    """Metrics of one segment (a value of one column)."""

    column: str
    """Segment column, e.g. device."""
    value: str
    """Segment value, e.g. mobile."""
    metrics: Metrics
    """Metrics on the segment's rows."""


class DataWindowStatus(ApiModel):
    """The data a version was trained and tested on."""

    train_start: date | None = None
    """First training day."""
    train_end: date | None = None
    """Last training day."""
    test_start: date | None = None
    """First test day."""
    test_end: date | None = None
    """Last test day."""
    rows: Annotated[int, Field(ge=0)] = 0
    """Rows read."""
    fingerprint: str | None = None
    """Content hash of the dataset."""


DEVIANCE_DIGITS = 4
"""Decimals of the deviance `kubectl get` prints."""


class ModelVersionStatus(ApiModel):
    """One trained model version and its evidence."""

    version: Annotated[str, Field(min_length=1, max_length=63)]
    """Immutable version id in the store."""
    uri: str | None = None
    """Artifact URL in the model store."""
    manifest_sha256: str | None = Field(default=None, alias="checksum")
    """sha256 of the artifact manifest."""
    trained_at: datetime | None = None
    """When training finished."""
    data: DataWindowStatus | None = None
    """Training and test windows."""
    metrics: Metrics | None = None
    """Metrics on the test window."""
    baseline_metrics: Metrics | None = None
    """The GLM baseline's metrics on the same window."""
    segments: Annotated[list[SegmentMetrics], Field(max_length=200)] = Field(default_factory=list)
    """Per-segment metrics."""
    deviance: float | None = None
    """`metrics.poissonDeviance` rounded to 4 decimals (set from it): what `kubectl get clickmodels` prints."""

    @model_validator(mode="after")
    def _round_deviance(self) -> ModelVersionStatus:
        # A printer column cannot round (jsonPath only), so the rounded value is a field of its own.
        full = self.metrics.poisson_deviance if self.metrics is not None else None
        self.deviance = round(full, DEVIANCE_DIGITS) if full is not None else None
        return self


class GateResult(ApiModel):
    """The outcome of one validation gate."""

    name: str
    """Gate, e.g. relative.maxPoissonDevianceIncrease or segment device=mobile."""
    passed: bool
    """Whether the candidate met it."""
    value: float | None = None
    """Observed value."""
    limit: float | None = None
    """Threshold."""
    message: str = ""
    """Explanation."""


class CandidateStatus(ModelVersionStatus):
    """The version under validation or canary."""

    gates: Annotated[list[GateResult], Field(max_length=200)] = Field(default_factory=list)
    """Results of every validation gate."""
    reference_version: str | None = None
    """The stable version the relative gates compared with (measured on this candidate's test window)."""
    rollout_started_at: datetime | None = None
    """When its Deployment was first requested (readiness is awaited until `spec.serving.readyTimeout`)."""
    promotion_decided_at: datetime | None = None
    """When its promotion was decided (the time of its GitOps record)."""
    git_commit: str | None = None
    """The commit recording its promotion in Git, once pushed (and, in branch mode, merged)."""


class Verdict(StrEnum):
    RUNNING = "Running"
    """Not enough evidence yet."""
    PASS = "Pass"
    """The candidate is not worse than stable at the configured confidence."""
    FAIL = "Fail"
    """The candidate is worse than stable at the configured confidence."""
    INCONCLUSIVE = "Inconclusive"
    """The time ran out without a decision."""
    ERROR = "Error"
    """More evaluation runs in a row ended in an error than `spec.canary.consecutiveErrorLimit` allows."""


class CanarySums(ApiModel):
    """Sufficient statistics of the canary's sequential test, over offer-days with real clicks.

    Each value is a Poisson unit deviance of one offer-day's prediction. The sums are additive: each
    analysis adds only the offer-days it newly saw (after `CanaryStatus.evidenceThrough`), so evidence
    is never counted twice and a restarted operator continues the same test instead of starting over.
    """

    stable_n: Annotated[int, Field(ge=0)] = 0
    """Offer-days predicted by the stable version."""
    stable_sum: float = 0.0
    """Sum of the stable version's unit deviances."""
    stable_sum_sq: float = 0.0
    """Sum of their squares."""
    candidate_n: Annotated[int, Field(ge=0)] = 0
    """Offer-days predicted by the candidate."""
    candidate_sum: float = 0.0
    """Sum of the candidate's unit deviances."""
    candidate_sum_sq: float = 0.0
    """Sum of their squares."""
    pairs: Annotated[int, Field(ge=0)] = 0
    """Shadow mode: offer-days predicted by both versions for the same request (then all three counts agree)."""
    cross_sum: float = 0.0
    """Shadow mode: sum over the pairs of stable deviance times candidate deviance."""
    stable_predicted: float = 0.0
    """Sum of the stable version's predicted clicks (calibration guardrail)."""
    stable_actual: float = 0.0
    """Sum of real clicks on the offer-days the stable version predicted."""
    candidate_predicted: float = 0.0
    """Sum of the candidate's predicted clicks."""
    candidate_actual: float = 0.0
    """Sum of real clicks on the offer-days the candidate predicted."""


class CanaryDaySums(ApiModel):
    """The canary test's sums over one offer-day: what a later look replaces when it measures the day again."""

    day: date
    """The offer-day."""
    sums: CanarySums = Field(default_factory=CanarySums)
    """Its sufficient statistics."""


class CanaryLook(ApiModel):
    """One analysis of the canary: the test's statistics after adding that interval's evidence."""

    look: Annotated[int, Field(ge=1)]
    """1 for the first analysis."""
    time: datetime
    """When it was taken."""
    evidence_through: date | None = None
    """The last offer-day whose real clicks it includes."""
    weight: Annotated[int, Field(ge=0, le=100)] = 0
    """The candidate's traffic weight during the interval (0 in shadow mode)."""
    stable_observations: Annotated[int, Field(ge=0)] = 0
    """Offer-days of the stable version so far."""
    candidate_observations: Annotated[int, Field(ge=0)] = 0
    """Offer-days of the candidate so far."""
    deviance_ratio: float | None = None
    """Candidate mean deviance / stable mean deviance so far."""
    ratio_low: float | None = None
    """Lower bound of the always-valid confidence sequence of the ratio."""
    ratio_high: float | None = None
    """Upper bound of the always-valid confidence sequence of the ratio."""
    verdict: Verdict = Verdict.RUNNING
    """Verdict after this look."""
    message: str = ""
    """Guardrail breaches or why no verdict could be reached."""


class CanaryStatus(ApiModel):
    """Progress and statistics of the running canary."""

    version: str
    """Candidate version under analysis."""
    weight: Annotated[int, Field(ge=0, le=100)] = 0
    """Current traffic weight of the candidate (0 in shadow mode)."""
    step: Annotated[int, Field(ge=0)] = 0
    """Index of the current step in spec.canary.steps."""
    started_at: datetime | None = None
    """When the canary started."""
    last_analysis_at: datetime | None = None
    """When the last analysis ran."""
    job_name: str | None = None
    """The evaluation run of the analysis in progress (None between analyses)."""
    analyses: Annotated[int, Field(ge=0)] = 0
    """Analyses (looks) taken so far."""
    evidence_through: date | None = None
    """The last offer-day whose real clicks are in `sums` (the next analysis adds later days, and measures the
    `recentDays` again)."""
    sums: CanarySums = Field(default_factory=CanarySums)
    """Sufficient statistics of the sequential test."""
    recent_days: Annotated[list[CanaryDaySums], Field(max_length=15)] = Field(default_factory=list)
    """The part of `sums` from each of the days a later look measures again (`canary.lateClickDays`), oldest
    first: their late clicks replace these sums rather than adding to them."""
    stable_observations: Annotated[int, Field(ge=0)] = 0
    """Offer-days with real clicks predicted by the stable version."""
    candidate_observations: Annotated[int, Field(ge=0)] = 0
    """Offer-days with real clicks predicted by the candidate."""
    deviance_ratio: float | None = None
    """Candidate mean deviance / stable mean deviance (on the same offer-days in shadow mode)."""
    ci_low: float | None = None
    """Lower bound of the always-valid confidence sequence of the deviance ratio."""
    ci_high: float | None = None
    """Upper bound of the always-valid confidence sequence of the deviance ratio."""
    p_value: float | None = None
    """Unused; kept so that existing objects stay valid."""
    failed_checks: Annotated[int, Field(ge=0)] = 0
    """Failed analyses (guardrail breaches) so far."""
    consecutive_errors: Annotated[int, Field(ge=0)] = 0
    """Evaluation runs in a row that ended in an error (reset by a look that succeeded); names the next attempt."""
    last_error: Annotated[str, Field(max_length=1000)] | None = None
    """The error of the last of those runs."""
    verdict: Verdict = Verdict.RUNNING
    """Current verdict."""
    looks: Annotated[list[CanaryLook], Field(max_length=100)] = Field(default_factory=list)
    """The analyses so far, oldest first (the latest 100)."""


class TrainingStatus(ApiModel):
    """The latest training run."""

    job_name: str | None = None
    """Job (or SparkApplication) running it."""
    version: str | None = None
    """Version it will publish."""
    started_at: datetime | None = None
    """When it started."""
    finished_at: datetime | None = None
    """When it ended."""
    reason: str | None = None
    """Why it started: Created, Schedule, Trigger, SpecChanged, Retry."""
    failures: Annotated[int, Field(ge=0)] = 0
    """Consecutive failed runs (reset by a success); sets the retry backoff."""
    retry_at: datetime | None = None
    """After a failure: when the next attempt starts."""
    last_schedule_time: datetime | None = None
    """The latest cron fire time acted on (missed fires while the operator was down count once)."""
    last_trigger: str | None = None
    """Value of spec.training.trigger that was last acted on."""
    spec_hash: str | None = None
    """Hash of the training-relevant spec (data, features, algorithm, training) of the last run."""
    message: str = ""
    """Last outcome."""


class QualityState(StrEnum):
    HEALTHY = "Healthy"
    DROP = "Drop"
    EROSION = "Erosion"
    UNKNOWN = "Unknown"


class DailyQuality(ApiModel):
    """The stable version's quality on one day of real clicks."""

    day: date
    """Offer day."""
    version: str
    """Version that predicted it."""
    rows: Annotated[int, Field(ge=0)] = 0
    """Offer-days with real clicks."""
    deviance: float | None = None
    """Mean Poisson unit deviance."""
    ratio: float | None = None
    """Mean deviance / the version's test-window (reference) deviance."""
    calibration: float | None = None
    """Predicted / real clicks."""


class MonitoringStatus(ApiModel):
    """Quality of the stable version on real clicks over time."""

    state: QualityState = QualityState.UNKNOWN
    """Healthy, Drop, Erosion or Unknown (no data yet)."""
    last_evaluated_at: datetime | None = None
    """When quality was last evaluated."""
    evaluations: Annotated[int, Field(ge=0)] = 0
    """Quality evaluations run so far (names the next evaluation run)."""
    job_name: str | None = None
    """The evaluation run in progress (None between evaluations)."""
    failures: Annotated[int, Field(ge=0)] = 0
    """Evaluation runs in a row that ended in an error (reset by one that succeeded); names the next attempt."""
    evaluated_through: date | None = None
    """The last offer-day measured (the next evaluation adds only later days)."""
    reference_deviance: float | None = None
    """The stable version's mean deviance on its own test window."""
    recent: Metrics | None = None
    """Metrics on the recent window."""
    deviance_ratio: float | None = None
    """Recent deviance / reference (test-window) deviance."""
    cusum: float | None = None
    """Current value of the erosion CUSUM statistic."""
    daily: Annotated[list[DailyQuality], Field(max_length=90)] = Field(default_factory=list)
    """Daily quality, oldest first (the latest 90 days; the full series is in the store)."""


class ScoringStatus(ApiModel):
    """The latest batch-scoring run (batch mode)."""

    job_name: str
    """Job running it."""
    version: str
    """Version scoring."""
    output: str
    """Where the predictions are written."""
    started_at: datetime | None = None
    """When it started."""
    finished_at: datetime | None = None
    """When it ended."""
    message: str = ""
    """Last outcome."""


class ReleaseOutcome(StrEnum):
    """What happened to a candidate version."""

    PROMOTED = "Promoted"
    ROLLED_BACK = "RolledBack"
    REJECTED = "Rejected"
    FAILED = "Failed"


class HistoryEntry(ApiModel):
    """One past release decision, newest first."""

    version: str
    """Candidate version."""
    decision: ReleaseOutcome
    """What happened to it."""
    reason: str
    """Why, in a CamelCase word."""
    message: str = ""
    """Detail."""
    time: datetime
    """When it was decided."""
    metrics: Metrics | None = None
    """The candidate's metrics at decision time."""
    git_commit: str | None = None
    """Commit recording the promotion, if GitOps is on."""
    gates: Annotated[list[GateResult], Field(max_length=50)] = Field(default_factory=list)
    """The gates it failed (rejections only)."""
    canary: CanaryStatus | None = None
    """Its canary as it ended (looks, bounds, verdict), when it had one: the live `canary` is cleared on decision."""


class ClickModelStatus(ApiModel):
    """Observed state of a ClickModel."""

    phase: Phase = Phase.PENDING
    """Summary of where the lifecycle is."""
    phase_since: datetime | None = None
    """When the phase last changed."""
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """metadata.generation last acted on."""
    stable: ModelVersionStatus | None = None
    """The version serving production traffic."""
    candidate: CandidateStatus | None = None
    """The version being validated or canaried."""
    canary: CanaryStatus | None = None
    """The running canary."""
    training: TrainingStatus | None = None
    """The latest training run."""
    scoring: ScoringStatus | None = None
    """The latest batch-scoring run (batch mode)."""
    monitoring: MonitoringStatus | None = None
    """Quality tracking."""
    conditions: Annotated[list[Condition], Field(max_length=16)] = Field(default_factory=list)
    """Conditions (Ready, Trained, Validated, Promoted, Healthy, StoreReadable, ReconcileError)."""
    history: Annotated[list[HistoryEntry], Field(max_length=50)] = Field(default_factory=list)
    """Latest release decisions, newest first."""
