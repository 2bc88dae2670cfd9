"""The lifecycle core: what to do next, given the spec, the last status and what was observed.

Purely computational: no Kubernetes, kopf, Spark, clock or file I/O. `decide` is the one entry point;
the operator (Kubernetes objects) and the embedded runner (local processes) observe, call it, and carry
out the Plan through the small Protocols in `clickcast.core.ports`.
"""

from clickcast.analysis.evidence import Comparison
from clickcast.core.decide import decide
from clickcast.core.observed import Observed, Rollout, RunObservation, RunState, TrainedVersion
from clickcast.core.plan import (
    Deploy,
    Event,
    EventType,
    Plan,
    RecordPromotion,
    Retire,
    Route,
    StartEvaluation,
    StartScoring,
    StartTraining,
    VersionPin,
)

__all__ = [
    "Comparison",
    "Deploy",
    "Event",
    "EventType",
    "Observed",
    "Plan",
    "RecordPromotion",
    "Retire",
    "Rollout",
    "Route",
    "RunObservation",
    "RunState",
    "StartEvaluation",
    "StartScoring",
    "StartTraining",
    "TrainedVersion",
    "VersionPin",
    "decide",
]
