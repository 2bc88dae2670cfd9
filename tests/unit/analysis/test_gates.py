"""Validation gates: each gate's value, limit and outcome."""

from __future__ import annotations

import pytest

from clickcast.analysis.evidence import ReferenceEvidence, TrainingEvidence
from clickcast.analysis.gates import check_gates, failed
from clickcast.api.spec import Validation
from clickcast.api.status import Metrics, SegmentMetrics

pytestmark = pytest.mark.unit


def m(deviance: float, *, rows: int = 5000, margin: float = 100.0, calibration: float = 1.0) -> Metrics:
    return Metrics(rows=rows, mae=deviance / 2, rmse=deviance, poisson_deviance=deviance, calibration=calibration,
                   margin=margin)  # fmt: skip


def ev(model: Metrics, reference: Metrics | None = None, segments: list[SegmentMetrics] | None = None,
       ref_segments: list[SegmentMetrics] | None = None) -> TrainingEvidence:  # fmt: skip
    ref = ReferenceEvidence(version="v1", metrics=reference, segments=ref_segments or []) if reference else None
    return TrainingEvidence(model=model, baseline=m(2.0), reference=ref, segments=segments or [])


def by_name(results: list[object]) -> dict[str, object]:
    return {r.name: r for r in results}  # type: ignore[attr-defined]


def test_first_version_only_absolute_and_baseline() -> None:
    results = check_gates(Validation(), ev(m(1.0)), stable_version=None)
    assert {r.name for r in results} == {"absolute.minCalibration", "absolute.maxCalibration",
                                         "relative.mustBeatBaseline"}  # fmt: skip
    assert failed(results) == []
    glm = check_gates(Validation(), ev(m(2.5)), stable_version=None, model_is_baseline=True)
    assert failed(glm) == []  # the GLM cannot beat itself


def test_absolute_limits_report_value_and_limit() -> None:
    validation = Validation.model_validate({"absolute": {"maxMae": 0.4, "minMargin": 150}})
    results = by_name(check_gates(validation, ev(m(1.0, calibration=1.2)), stable_version=None))
    mae = results["absolute.maxMae"]
    assert (mae.passed, mae.value, mae.limit) == (False, 0.5, 0.4)  # type: ignore[attr-defined]
    assert not results["absolute.maxCalibration"].passed  # type: ignore[attr-defined]
    assert not results["absolute.minMargin"].passed  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("stable_margin", "candidate_margin", "passes"),
    [
        (100.0, 98.5, True),
        (100.0, 97.0, False),
        (0.0, 0.0, True),
        (0.0, -0.1, False),
        (-50.0, -50.5, True),
        (-50.0, -52.0, False),
    ],
)
def test_relative_margin_works_for_zero_and_negative_stable(stable_margin: float, candidate_margin: float,
                                                            passes: bool) -> None:  # fmt: skip
    results = by_name(check_gates(Validation(), ev(m(1.0, margin=candidate_margin), m(1.0, margin=stable_margin)),
                                  stable_version="v1"))  # fmt: skip
    assert results["relative.maxMarginDecrease"].passed is passes  # type: ignore[attr-defined]


def test_relative_deviance_and_segments() -> None:
    seg = [SegmentMetrics(column="device", value="mobile", metrics=m(1.2)),
           SegmentMetrics(column="device", value="tablet", metrics=m(3.0, rows=50))]  # fmt: skip
    ref_seg = [SegmentMetrics(column="device", value="mobile", metrics=m(1.0)),
               SegmentMetrics(column="device", value="tablet", metrics=m(1.0, rows=50))]  # fmt: skip
    results = by_name(check_gates(Validation(), ev(m(1.005), m(1.0), seg, ref_seg), stable_version="v1"))
    assert results["relative.maxPoissonDevianceIncrease"].passed  # type: ignore[attr-defined]
    mobile = results["segment device=mobile"]
    assert (mobile.passed, mobile.limit) == (False, pytest.approx(1.05))  # type: ignore[attr-defined]
    tablet = results["segment device=tablet"]
    assert tablet.passed  # type: ignore[attr-defined]
    assert "not gated" in tablet.message  # type: ignore[attr-defined]


def test_a_missing_or_foreign_reference_fails_rather_than_waving_through() -> None:
    assert [r.name for r in failed(check_gates(Validation(), ev(m(0.5)), stable_version="v1"))] == [
        "relative.reference"
    ]
    other = check_gates(Validation(), ev(m(0.5), m(1.0)), stable_version="v2")
    assert [r.name for r in failed(other)] == ["relative.reference"]
