"""Quality detectors on simulated click data: a regime shift, a slow drift and a stable year.

The world: a fixed set of offers with Gamma-distributed click rates; a model trained on them predicts each
offer's rate exactly (the best a model can do), so its test-window (reference) deviance is pure Poisson noise.
Each day a subset of offers is shown (fewer at weekends, now and then an outage day with only a few rows), real
clicks are Poisson draws of the day's true rates, and the day's mean deviance comes from the real
`poisson_unit_deviance`. The operator's loop is replayed: each day is merged into the bounded daily list and
the detectors run on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pytest

from clickcast.analysis.metrics import poisson_unit_deviance
from clickcast.analysis.quality import (
    DAILY_KEEP,
    QualityReason,
    assess_quality,
    cusum,
    merge_daily,
    window_days,
)
from clickcast.api.spec import Monitoring
from clickcast.api.status import DailyQuality, QualityState

pytestmark = pytest.mark.unit

START = date(2025, 1, 1)
OFFERS = 4000
TEST_DAYS = 28
VERSION = "v1"

Multiplier = Callable[[int], "np.ndarray | float"]
"""The true rates on day t are the learned rates times multiplier(t)."""


def flat(day: int) -> float:
    return 1.0


@dataclass(frozen=True)
class World:
    rates: np.ndarray
    predicted: np.ndarray
    reference: float


def world(rng: np.random.Generator) -> World:
    rates = rng.gamma(shape=2.0, scale=0.5, size=OFFERS)  # mean one click per offer-day
    predicted = rates.copy()  # a fixed model that learned the rates
    test_window = rng.poisson(np.tile(rates, TEST_DAYS))
    reference = float(poisson_unit_deviance(test_window, np.tile(predicted, TEST_DAYS)).mean())
    return World(rates, predicted, reference)


def simulate(seed: int, days: int, multiplier: Multiplier = flat) -> tuple[World, list[DailyQuality]]:
    """Daily quality of the fixed model while the true rates are rates x multiplier(day)."""
    rng = np.random.default_rng(seed)
    w = world(rng)
    out = []
    for t in range(days):
        day = START + timedelta(days=t)
        share = 0.6 if day.weekday() >= 5 else 1.0
        if rng.random() < 0.03:
            share = 0.04  # an outage: ~100 rows, far below min_rows
        shown = rng.random(OFFERS) < share
        true = (w.rates * multiplier(t))[shown]
        predicted = w.predicted[shown]
        clicks = rng.poisson(true)
        deviance = float(poisson_unit_deviance(clicks, predicted).mean())
        out.append(
            DailyQuality(
                day=day,
                version=VERSION,
                rows=int(shown.sum()),
                deviance=deviance,
                ratio=deviance / w.reference,
                calibration=float(predicted.sum() / max(clicks.sum(), 1)),
            )
        )
    return w, out


def replay(w: World, days: list[DailyQuality], monitoring: Monitoring) -> list[QualityState]:
    """The state after each day, as the operator would see it: merge the day, then assess."""
    kept: list[DailyQuality] = []
    states = []
    for d in days:
        kept = merge_daily(kept, [d])
        states.append(assess_quality(kept, w.reference, monitoring, version=VERSION).state)
    return states


def first(states: list[QualityState], *wanted: QualityState) -> int | None:
    return next((t for t, s in enumerate(states) if s in wanted), None)


SHIFT_DAY = 45


def regime_shift(seed: int) -> Multiplier:
    """From SHIFT_DAY on, every offer's rate is multiplied by its own lognormal(0, 0.6) factor, for good."""
    factors = np.random.default_rng(seed + 1000).lognormal(0.0, 0.6, OFFERS)
    return lambda day: 1.0 if day < SHIFT_DAY else factors


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_regime_shift_fires_the_drop_detector_on_the_first_full_day(seed: int) -> None:
    # The shift raises the expected deviance by ~40% (ratio ~1.4 > 1.25); with a one-day drop window the first
    # full day of the new regime fires. An outage day (too few rows) postpones it to the next day.
    w, days = simulate(seed, SHIFT_DAY + 20, regime_shift(seed))
    states = replay(w, days, Monitoring())
    assert set(states[:SHIFT_DAY]) == {QualityState.HEALTHY}, "nothing fires before the shift"
    fired = first(states, QualityState.DROP, QualityState.EROSION)
    assert fired is not None
    assert states[fired] is QualityState.DROP
    full_days = [t for t in range(SHIFT_DAY, len(days)) if days[t].rows >= 500]
    assert fired == full_days[0], f"drop fired on day {fired}, the first full day after the shift is {full_days[0]}"
    # It keeps firing while the regime lasts (every full day).
    assert all(states[t] is QualityState.DROP for t in full_days)


DRIFT_DAY = 30
DRIFT_PER_DAY = 0.015


def drift(day: int) -> float:
    """From DRIFT_DAY every rate grows 1.5% a day (compounded); the model keeps predicting the old rates."""
    return (1.0 + DRIFT_PER_DAY) ** max(0, day - DRIFT_DAY)


def drift_down(day: int) -> float:
    return (1.0 - DRIFT_PER_DAY) ** max(0, day - DRIFT_DAY)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    ("direction", "earliest", "latest"),
    [(drift, 8, 20), (drift_down, 20, 38)],
    ids=["rates-up", "rates-down"],
)
def test_slow_drift_fires_erosion_before_drop(seed: int, direction: Multiplier, earliest: int, latest: int) -> None:
    # The excess deviance grows with the square of the rates' relative error, and over-prediction (rates down)
    # costs less deviance than under-prediction. No single day comes near the drop limit (+25%) for weeks while
    # the CUSUM (k = 0.02, h = 0.15) sums the excess above 2%. Measured over seeds 1..20: rates up, erosion
    # after 10-15 days of drift, drop after 23-31; rates down, erosion after 25-31 days, drop after 52-63.
    w, days = simulate(seed, DRIFT_DAY + 70, direction)
    states = replay(w, days, Monitoring())
    assert set(states[:DRIFT_DAY]) == {QualityState.HEALTHY}, "nothing fires before the drift"
    erosion = first(states, QualityState.EROSION)
    drop = first(states, QualityState.DROP)
    assert erosion is not None, "erosion never fired"
    assert drop is None or erosion < drop, f"drop (day {drop}) fired before erosion (day {erosion})"
    assert earliest <= erosion - DRIFT_DAY <= latest, f"erosion fired {erosion - DRIFT_DAY} days into the drift"
    # Without the erosion detector only a drop would tell, and much later (or never within the run).
    states_without = replay(w, days, Monitoring.model_validate({"erosion": {"enabled": False}}))
    late = first(states_without, QualityState.DROP)
    assert late is None or late > erosion + 7


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
def test_stable_year_raises_nothing(seed: int) -> None:
    # 365 days of the same rates, with weekends and ~11 outage days a year: no false alarm on any day.
    w, days = simulate(seed, 365)
    states = replay(w, days, Monitoring())
    judged = next(t for t, d in enumerate(days) if d.rows >= 500)  # Unknown until the first full day
    assert set(states[:judged]) <= {QualityState.UNKNOWN}
    assert set(states[judged:]) == {QualityState.HEALTHY}


def test_stable_year_would_alarm_without_min_rows() -> None:
    # The guard matters: counting the outage days (~100 rows, a noisy mean) and a tight drift allowance alarms.
    w, days = simulate(11, 365)
    tight = Monitoring.model_validate({"erosion": {"driftAllowance": 0.0}})
    guarded = [assess_quality(days[: t + 1], w.reference, tight, version=VERSION).state for t in range(365)]
    unguarded = [assess_quality(days[: t + 1], w.reference, tight, version=VERSION, min_rows=1).state
                 for t in range(365)]  # fmt: skip
    assert QualityState.EROSION in unguarded
    assert guarded.count(QualityState.EROSION) < unguarded.count(QualityState.EROSION)


# Hand-made series: exact behaviour of each rule.


def dq(t: int, ratio: float | None, rows: int = 1000, version: str = VERSION) -> DailyQuality:
    return DailyQuality(day=START + timedelta(days=t), version=version, rows=rows,
                        deviance=None if ratio is None else ratio * 2.0, ratio=ratio)  # fmt: skip


def test_cusum_accumulates_the_excess_over_the_allowance_and_never_goes_negative() -> None:
    assert cusum([], 0.02) == 0.0
    assert cusum([0.5, 0.5], 0.02) == 0.0
    assert cusum([1.07, 1.07, 1.07], 0.02) == pytest.approx(0.15)
    assert cusum([1.12, 0.0, 1.12], 0.02) == pytest.approx(0.10)


def test_erosion_fires_above_the_threshold_only() -> None:
    below = [dq(t, 1.06) for t in range(3)]  # S = 3 x (0.06 - 0.02) = 0.12
    a = assess_quality(below, 2.0, Monitoring())
    assert (a.state, a.reason, a.cusum_days) == (QualityState.HEALTHY, QualityReason.WITHIN_LIMITS, 3)
    assert a.cusum == pytest.approx(0.12)
    above = assess_quality([*below, dq(3, 1.06)], 2.0, Monitoring())  # S = 0.16 > 0.15
    assert (above.state, above.reason, above.erosion, above.drop) == (
        QualityState.EROSION, QualityReason.DEVIANCE_EROSION, True, False)  # fmt: skip


def test_erosion_forgets_days_older_than_its_window() -> None:
    old_excess = [dq(t, 1.2) for t in range(3)]
    calm = [dq(t, 1.0) for t in range(3, 10)]
    monitoring = Monitoring.model_validate({"erosion": {"window": "7d"}})
    assert assess_quality(old_excess + calm[:3], 2.0, monitoring).state is QualityState.EROSION
    assert assess_quality(old_excess + calm, 2.0, monitoring).state is QualityState.HEALTHY


def test_drop_pools_its_window_by_rows_and_needs_min_rows() -> None:
    monitoring = Monitoring.model_validate({"drop": {"window": "2d"}, "erosion": {"enabled": False}})
    big_ok, small_bad = dq(0, 1.0, rows=3000), dq(1, 2.0, rows=1000)
    a = assess_quality([big_ok, small_bad], 2.0, monitoring)
    assert a.deviance_ratio == pytest.approx(1.25)  # (3000 x 1 + 1000 x 2) / 4000
    assert (a.state, a.recent_rows) == (QualityState.HEALTHY, 4000)  # 1.25 is not > 1.25
    tiny = assess_quality([dq(0, 3.0, rows=100)], 2.0, monitoring)
    assert (tiny.state, tiny.reason, tiny.drop) == (QualityState.UNKNOWN, QualityReason.NOT_ENOUGH_ROWS, False)
    assert assess_quality([dq(0, 3.0, rows=100)], 2.0, monitoring, min_rows=100).state is QualityState.DROP


def test_drop_takes_precedence_over_erosion() -> None:
    a = assess_quality([dq(t, 1.5) for t in range(3)], 2.0, Monitoring())
    assert (a.state, a.reason, a.drop, a.erosion) == (QualityState.DROP, QualityReason.DEVIANCE_DROP, True, True)
    assert "1.500 > 1.250" in a.message


@pytest.mark.parametrize(
    ("daily", "reference", "monitoring", "reason"),
    [
        ([], 2.0, Monitoring(), QualityReason.NO_DATA),
        ([dq(0, None)], 2.0, Monitoring(), QualityReason.NO_DATA),
        ([dq(0, 1.0, rows=0)], 2.0, Monitoring(), QualityReason.NO_DATA),
        ([dq(0, 1.0)], None, Monitoring(), QualityReason.NO_REFERENCE),
        ([dq(0, 1.0)], 0.0, Monitoring(), QualityReason.NO_REFERENCE),
        ([dq(0, 1.0, rows=10)], 2.0, Monitoring(), QualityReason.NOT_ENOUGH_ROWS),
        (
            [dq(0, 1.0)],
            2.0,
            Monitoring.model_validate({"drop": {"enabled": False}, "erosion": {"enabled": False}}),
            QualityReason.DETECTORS_DISABLED,
        ),
    ],
    ids=["no-days", "no-deviance", "no-rows", "no-reference", "zero-reference", "tiny-day", "disabled"],
)
def test_unknown(daily: list[DailyQuality], reference: float | None, monitoring: Monitoring,
                 reason: QualityReason) -> None:  # fmt: skip
    a = assess_quality(daily, reference, monitoring)
    assert (a.state, a.reason) == (QualityState.UNKNOWN, reason)


def test_only_the_given_version_counts() -> None:
    old_bad = [dq(t, 1.6, version="v0") for t in range(5)]
    new_ok = [dq(5, 1.0, version="v1")]
    assert assess_quality(old_bad + new_ok, 2.0, Monitoring(), version="v1").state is QualityState.HEALTHY
    assert assess_quality(old_bad + new_ok, 2.0, Monitoring()).state is QualityState.EROSION


def test_window_days_round_up() -> None:
    assert [window_days(d) for d in ("1d", "28d", "1h", "36h", "90s")] == [1, 28, 1, 2, 1]


def test_merge_daily_replaces_a_day_measured_again_and_bounds_the_list() -> None:
    first_pass = [dq(t, 1.0, rows=100) for t in range(3)]
    again = dq(2, 1.1, rows=900)  # day 2 measured again, with its late clicks
    other = dq(2, 1.3, version="v2")  # day 2 of the candidate: a different series
    merged = merge_daily(first_pass, [again, other])
    assert [(d.day, d.version, d.rows) for d in merged] == [
        (START, VERSION, 100), (START + timedelta(days=1), VERSION, 100),
        (START + timedelta(days=2), VERSION, 900), (START + timedelta(days=2), "v2", 1000)]  # fmt: skip
    assert merge_daily(merged, [again]) == merged, "merging the same day twice changes nothing"
    assert sum(d.rows for d in merge_daily(merged, [again, again])) == 2100
    long = merge_daily([], (dq(t, 1.0) for t in range(200)))
    assert len(long) == DAILY_KEEP and long[0].day == START + timedelta(days=110)
    assert merge_daily(long, [dq(5, 1.0)])[0].day == START + timedelta(days=110), "an old day does not displace"
    assert merge_daily(long, [], keep=0) == []
