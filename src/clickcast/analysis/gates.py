"""Validation gates: may a trained candidate receive traffic? Purely computational.

Every gate of `spec.validation` yields a GateResult (value, limit, outcome),
so status shows why a candidate passed or was rejected:

- absolute limits on the candidate's test-window metrics;
- must beat the GLM baseline on Poisson deviance (trained on the same rows);
- limits relative to the stable version, measured by the training job on the
  candidate's own test window (`TrainingEvidence.reference`), never on the
  stable version's older window;
- per-segment deviance limits relative to the stable version, for segments
  with at least `minRows` test rows (smaller ones are reported, not gated).

The first version has no stable version: only the absolute gates and the
baseline apply.
"""

from __future__ import annotations

from collections.abc import Iterator

from clickcast.analysis.evidence import TrainingEvidence
from clickcast.analysis.metrics import margin_floor
from clickcast.api.spec import Validation
from clickcast.api.status import GateResult, Metrics, SegmentMetrics


def _at_most(name: str, value: float | None, limit: float, what: str) -> GateResult:
    if value is None:
        return GateResult(name=name, passed=False, limit=limit, message=f"{what} was not measured")
    ok = value <= limit
    return GateResult(
        name=name, passed=ok, value=value, limit=limit, message=f"{what} {value:.6g} {'<=' if ok else '>'} {limit:.6g}"
    )


def _at_least(name: str, value: float | None, limit: float, what: str) -> GateResult:
    if value is None:
        return GateResult(name=name, passed=False, limit=limit, message=f"{what} was not measured")
    ok = value >= limit
    return GateResult(
        name=name, passed=ok, value=value, limit=limit, message=f"{what} {value:.6g} {'>=' if ok else '<'} {limit:.6g}"
    )


def _increase(name: str, value: float | None, reference: float | None, max_increase: float, what: str) -> GateResult:
    if reference is None:
        return GateResult(name=name, passed=False, value=value, message=f"the stable version's {what} was not measured")
    return _at_most(name, value, reference * (1 + max_increase), f"{what} (stable {reference:.6g})")


def _absolute(validation: Validation, m: Metrics) -> Iterator[GateResult]:
    a = validation.absolute
    if a.max_mae is not None:
        yield _at_most("absolute.maxMae", m.mae, a.max_mae, "MAE")
    if a.max_rmse is not None:
        yield _at_most("absolute.maxRmse", m.rmse, a.max_rmse, "RMSE")
    if a.max_poisson_deviance is not None:
        yield _at_most("absolute.maxPoissonDeviance", m.poisson_deviance, a.max_poisson_deviance, "Poisson deviance")
    yield _at_least("absolute.minCalibration", m.calibration, a.min_calibration, "calibration")
    yield _at_most("absolute.maxCalibration", m.calibration, a.max_calibration, "calibration")
    if a.min_margin is not None:
        yield _at_least("absolute.minMargin", m.margin, a.min_margin, "margin")


def _relative(validation: Validation, m: Metrics, ref: Metrics) -> Iterator[GateResult]:
    r = validation.relative
    yield _increase("relative.maxMaeIncrease", m.mae, ref.mae, r.max_mae_increase, "MAE")
    yield _increase("relative.maxRmseIncrease", m.rmse, ref.rmse, r.max_rmse_increase, "RMSE")
    yield _increase(
        "relative.maxPoissonDevianceIncrease",
        m.poisson_deviance,
        ref.poisson_deviance,
        r.max_poisson_deviance_increase,
        "Poisson deviance",
    )
    if ref.margin is None:
        yield GateResult(name="relative.maxMarginDecrease", passed=False, message="stable margin was not measured")
    else:
        floor = margin_floor(ref.margin, r.max_margin_decrease)
        yield _at_least("relative.maxMarginDecrease", m.margin, floor, f"margin (stable {ref.margin:.6g})")


def _segments(
    validation: Validation, candidate: list[SegmentMetrics], ref: list[SegmentMetrics]
) -> Iterator[GateResult]:
    s = validation.segments
    stable = {(x.column, x.value): x.metrics for x in ref}
    for seg in candidate:
        if seg.column not in s.columns:
            continue
        name = f"segment {seg.column}={seg.value}"
        if seg.metrics.rows < s.min_rows:
            yield GateResult(
                name=name, passed=True, value=seg.metrics.poisson_deviance,
                message=f"not gated: {seg.metrics.rows} rows < minRows {s.min_rows}",
            )  # fmt: skip
            continue
        ref_metrics = stable.get((seg.column, seg.value))
        if ref_metrics is None:
            yield GateResult(name=name, passed=True, message="not gated: the stable version has no such segment")
            continue
        yield _increase(
            name, seg.metrics.poisson_deviance, ref_metrics.poisson_deviance,
            s.max_poisson_deviance_increase, "Poisson deviance",
        )  # fmt: skip


def check_gates(
    validation: Validation, evidence: TrainingEvidence, *, stable_version: str | None, model_is_baseline: bool = False
) -> list[GateResult]:
    """Every gate's outcome for a candidate; it passes when all pass.

    `stable_version` is the version serving now (None for the first version); its measurement on the
    candidate's window must be in `evidence.reference`, or the relative gates fail (never waved through).
    `model_is_baseline`: the algorithm is the GLM itself, so the baseline gate does not apply.
    """
    m = evidence.model
    results = list(_absolute(validation, m))
    if validation.relative.must_beat_baseline and not model_is_baseline:
        base = evidence.baseline.poisson_deviance
        if base is None or m.poisson_deviance is None:
            results.append(GateResult(name="relative.mustBeatBaseline", passed=False, message="deviance not measured"))
        else:
            ok = m.poisson_deviance < base
            results.append(
                GateResult(
                    name="relative.mustBeatBaseline",
                    passed=ok,
                    value=m.poisson_deviance,
                    limit=base,
                    message=f"Poisson deviance {m.poisson_deviance:.6g} {'<' if ok else '>='} baseline {base:.6g}",
                )
            )
    if stable_version is None:
        return results
    ref = evidence.reference
    if ref is None or ref.version != stable_version:
        measured = "no stable version" if ref is None else f"stable {ref.version}"
        results.append(
            GateResult(
                name="relative.reference",
                passed=False,
                message=f"the candidate was measured against {measured}, not the serving {stable_version}",
            )
        )
        return results
    results += _relative(validation, m, ref.metrics)
    results += _segments(validation, evidence.segments, ref.segments)
    return results


def failed(results: list[GateResult]) -> list[GateResult]:
    return [r for r in results if not r.passed]
