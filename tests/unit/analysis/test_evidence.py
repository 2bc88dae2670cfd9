"""Typed evidence reads what the jobs write (camelCase JSON) and ignores fields it does not know."""

from __future__ import annotations

import pytest

from clickcast.analysis.evidence import EvaluationReport, TrainingEvidence
from clickcast.api.roles import Role

pytestmark = pytest.mark.unit


def test_evaluation_report_from_job_json() -> None:
    doc = {
        "rows": 10,
        "unmatched": 2,
        "badRows": {"total": 1, "reasons": {"price": 1}, "examples": []},
        "versions": [
            {"model": "m", "modelVersion": "v1", "role": "stable", "metrics": {"rows": 6, "poissonDeviance": 1.2}},
            {"model": "m", "modelVersion": "v2", "role": "shadow", "metrics": {"rows": 4, "poissonDeviance": 1.1}},
        ],
        "segments": [],
        "daily": [{"model": "m", "modelVersion": "v1", "role": "stable", "date": "2026-01-02", "metrics": {"rows": 6}}],
        "addedByANewerJob": True,
    }
    report = EvaluationReport.model_validate(doc)
    assert report.bad_rows.reasons == {"price": 1}
    shadow = report.version("v2", Role.SHADOW)
    assert shadow is not None
    assert shadow.metrics.poisson_deviance == 1.1
    assert report.version("v2", Role.STABLE) is None
    with pytest.raises(ValueError, match="role"):
        EvaluationReport.model_validate({**doc, "versions": [{**doc["versions"][0], "role": "primary"}]})


def test_training_evidence_without_reference() -> None:
    evidence = TrainingEvidence.model_validate(
        {"model": {"rows": 5, "mae": 1.0}, "baseline": {"rows": 5, "mae": 1.5}, "algorithm": "xgboost"}
    )
    assert evidence.reference is None
    assert evidence.baseline.mae == 1.5
    assert TrainingEvidence.model_validate_json(evidence.model_dump_json(by_alias=True)) == evidence
