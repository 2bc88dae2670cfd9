"""The reasons of the Events the lifecycle core emits: one vocabulary for the core, the shells and the metrics.

A `StrEnum`, so an Event's reason is still the plain CamelCase word Kubernetes shows (`kubectl describe`), and the
operator's accounting matches members, not strings that could drift from what the core writes.
"""

from __future__ import annotations

from enum import StrEnum

from clickcast.api.status import QualityState


class EventReason(StrEnum):
    # Spec and suspension
    INVALID_SPEC = "InvalidSpec"
    SPEC_NOT_RUNNABLE = "SpecNotRunnable"
    SUSPENDED = "Suspended"
    RESUMED = "Resumed"
    # Training and validation
    TRAINING_STARTED = "TrainingStarted"
    TRAINING_SUCCEEDED = "TrainingSucceeded"
    TRAINING_FAILED = "TrainingFailed"
    VALIDATED = "Validated"
    CANDIDATE_REJECTED = "CandidateRejected"
    # Canary
    CANARY_STARTED = "CanaryStarted"
    CANARY_READY = "CanaryReady"
    CANARY_ANALYSIS = "CanaryAnalysis"
    CANARY_WEIGHT = "CanaryWeight"
    ANALYSIS_FAILED = "AnalysisFailed"
    AWAITING_APPROVAL = "AwaitingApproval"
    # Release
    PROMOTION_STARTED = "PromotionStarted"
    PROMOTION_RECORDED = "PromotionRecorded"
    AWAITING_MERGE = "AwaitingMerge"
    GITOPS_FAILED = "GitOpsFailed"
    PROMOTION_TIMED_OUT = "PromotionTimedOut"
    GITOPS_REFUSED = "GitOpsRefused"
    PROMOTED = "Promoted"
    ROLLED_BACK = "RolledBack"
    # Batch scoring
    SCORING_STARTED = "ScoringStarted"
    SCORED = "Scored"
    SCORING_FAILED = "ScoringFailed"
    # Quality tracking
    QUALITY_DROP = "QualityDrop"
    QUALITY_EROSION = "QualityErosion"
    QUALITY_RECOVERED = "QualityRecovered"
    QUALITY_EVALUATION_FAILED = "QualityEvaluationFailed"
    # Faults of the world around the model (not of a run)
    STORE_REFUSED = "StoreRefused"
    STORE_READABLE = "StoreReadable"
    RECONCILE_ERROR = "ReconcileError"
    RESOURCE_NOT_OWNED = "ResourceNotOwned"
    """An object of a name clickcast would use belongs to someone else: neither changed nor deleted."""
    RECONCILED = "Reconciled"


DEGRADED_REASON = {QualityState.DROP: EventReason.QUALITY_DROP, QualityState.EROSION: EventReason.QUALITY_EROSION}
"""The Event of each degraded quality state."""
