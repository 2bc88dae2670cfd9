"""A promotion record with every kind of evidence, shared by the GitOps tests."""

from __future__ import annotations

from datetime import UTC, date, datetime

from clickcast.api.status import CanaryStatus, CanarySums, CandidateStatus, DataWindowStatus, GateResult, Metrics
from clickcast.gitops import PromotionRecord

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def make_record(version: str = "v2", previous: str | None = "v1") -> PromotionRecord:
    candidate = CandidateStatus(
        version=version,
        uri=f"s3://models/ads/offers-ctr/{version}",
        manifest_sha256="ab" * 32,
        data=DataWindowStatus(train_start=date(2025, 1, 1), test_end=date(2025, 2, 28), rows=1000, fingerprint="fp1"),
        metrics=Metrics(rows=500, poisson_deviance=0.41, mae=0.3, calibration=1.01),
        gates=[GateResult(name="absolute.maxPoissonDeviance", passed=True, value=0.41, limit=0.5)],
    )
    canary = CanaryStatus(version=version, analyses=3, deviance_ratio=0.97, verdict="Pass", sums=CanarySums(pairs=7))
    return PromotionRecord.from_status(
        "ads",
        "offers-ctr",
        candidate,
        time=T0,
        previous=CandidateStatus(version=previous) if previous else None,
        canary=canary,
    )
