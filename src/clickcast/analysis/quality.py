"""Quality tracking of the stable version on real clicks: drop and erosion detectors. Purely computational.

Input is `MonitoringStatus.daily`: per offer day, the rows (offer-days with real clicks) and the mean Poisson
unit deviance of the version that predicted them. Each day's *ratio* is its mean deviance over the version's
reference deviance (its mean deviance on its own test window); 1 means "as good as when it was validated".

Windows are calendar days ending at the latest day in the data (not at the wall clock, so the result depends on
the data alone): a window of "1d" is the latest day, "28d" the latest day and the 27 before it. Durations that
are not whole days round up ("1h" is one day).

- **Drop** (`spec.monitoring.drop`): the drop window's pooled ratio, sum(rows x deviance) / sum(rows) / reference,
  fires above 1 + maxDevianceIncrease. The window must hold at least `min_rows` rows: one small day (a
  holiday, an outage, a partial day of late clicks) has a noisy mean deviance and must not fire on its own; its
  evidence waits for the next evaluation, when later days fill the window.
- **Erosion** (`spec.monitoring.erosion`): a one-sided CUSUM over the erosion window's days, oldest first,
  S_0 = 0, S_t = max(0, S_(t-1) + (ratio_t - 1) - k) with k = driftAllowance, firing when the latest S_t > h
  (threshold). Days with fewer than `min_rows` rows are skipped (they move S neither up nor down), so a
  burst of tiny noisy days cannot accumulate into an alarm. The statistic is recomputed from the window each
  time rather than carried in status: the same daily list always gives the same answer, and a day older than
  the window stops counting.

Drop takes precedence when both fire (it is the more urgent, and retraining answers both). With no usable
data (no days, no positive reference deviance, every day too small, or both detectors off) the state is
Unknown. Days of another version than `version` are ignored, so a promotion starts the series afresh.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from clickcast.api.duration import parse_duration
from clickcast.api.spec import Monitoring
from clickcast.api.status import DailyQuality, QualityState

DEFAULT_MIN_ROWS = 500
"""Rows a day needs to count in the CUSUM, and the drop window needs to fire: with mean clicks around one per
offer-day, the mean unit deviance of 500 rows has a relative standard error of about 5%, well inside the
default drop limit (25%) and close to the default drift allowance (2%, summed over days)."""

DAILY_KEEP = 90
"""Days `MonitoringStatus.daily` keeps (its schema's maxItems)."""


class QualityReason(StrEnum):
    """Why an assessment came out as it did (a Condition reason)."""

    DEVIANCE_DROP = "DevianceDrop"
    DEVIANCE_EROSION = "DevianceErosion"
    WITHIN_LIMITS = "WithinLimits"
    NO_DATA = "NoData"
    NO_REFERENCE = "NoReference"
    NOT_ENOUGH_ROWS = "NotEnoughRows"
    DETECTORS_DISABLED = "DetectorsDisabled"


@dataclass(frozen=True)
class QualityAssessment:
    """The detectors' verdict on a daily series; the first three fields map onto a Healthy condition."""

    state: QualityState
    reason: QualityReason
    message: str
    deviance_ratio: float | None = None
    """Pooled ratio of the drop window (`MonitoringStatus.devianceRatio`); None without rows."""
    cusum: float | None = None
    """The erosion CUSUM at the latest counted day (`MonitoringStatus.cusum`); None without counted days."""
    recent_rows: int = 0
    """Rows in the drop window."""
    cusum_days: int = 0
    """Days the CUSUM counted (within the erosion window, with at least `min_rows` rows)."""
    drop: bool = False
    """The drop detector fired."""
    erosion: bool = False
    """The erosion detector fired (also set when drop fired too and took precedence)."""


@dataclass(frozen=True)
class _Day:
    day: date
    rows: int
    ratio: float


def window_days(duration: str) -> int:
    """Whole days of a spec duration, rounded up, at least one."""
    return max(1, math.ceil(parse_duration(duration) / timedelta(days=1)))


def _days(daily: Iterable[DailyQuality], reference: float, version: str | None) -> list[_Day]:
    """One entry per day (entries of the same day pooled by rows), oldest first, with its ratio."""
    rows: dict[date, int] = {}
    deviance: dict[date, float] = {}
    for d in daily:
        if d.deviance is None or d.rows <= 0 or not math.isfinite(d.deviance):
            continue
        if version is not None and d.version != version:
            continue
        rows[d.day] = rows.get(d.day, 0) + d.rows
        deviance[d.day] = deviance.get(d.day, 0.0) + d.rows * d.deviance
    return [_Day(day, n, deviance[day] / n / reference) for day, n in sorted(rows.items())]


def cusum(ratios: Iterable[float], drift_allowance: float) -> float:
    """One-sided upper CUSUM of (ratio - 1): S_t = max(0, S_(t-1) + ratio_t - 1 - k), from S_0 = 0."""
    s = 0.0
    for r in ratios:
        s = max(0.0, s + (r - 1.0) - drift_allowance)
    return s


def assess_quality(
    daily: Sequence[DailyQuality],
    reference_deviance: float | None,
    monitoring: Monitoring,
    *,
    version: str | None = None,
    min_rows: int = DEFAULT_MIN_ROWS,
) -> QualityAssessment:
    """Run the drop and erosion detectors of `monitoring` over `daily` (see the module docstring).

    `version`: only that version's days count (None: every day). `min_rows`: rows a day needs to count in the
    CUSUM, and the drop window needs in total to fire.
    """
    if not (monitoring.drop.enabled or monitoring.erosion.enabled):
        return QualityAssessment(QualityState.UNKNOWN, QualityReason.DETECTORS_DISABLED, "no detector is enabled")
    if reference_deviance is None or not (math.isfinite(reference_deviance) and reference_deviance > 0):
        return QualityAssessment(
            QualityState.UNKNOWN, QualityReason.NO_REFERENCE, "the version's reference deviance is unknown"
        )
    days = _days(daily, reference_deviance, version)
    if not days:
        return QualityAssessment(QualityState.UNKNOWN, QualityReason.NO_DATA, "no day with real clicks yet")
    last = days[-1].day

    drop_start = last - timedelta(days=window_days(monitoring.drop.window) - 1)
    recent = [d for d in days if d.day >= drop_start]
    recent_rows = sum(d.rows for d in recent)
    ratio = sum(d.rows * d.ratio for d in recent) / recent_rows if recent_rows else None
    drop_limit = 1.0 + monitoring.drop.increase_limit
    drop_judged = monitoring.drop.enabled and ratio is not None and recent_rows >= min_rows
    drop = drop_judged and ratio is not None and ratio > drop_limit

    erosion_start = last - timedelta(days=window_days(monitoring.erosion.window) - 1)
    counted = [d for d in days if d.day >= erosion_start and d.rows >= min_rows]
    s = cusum((d.ratio for d in counted), monitoring.erosion.drift_allowance) if counted else None
    erosion_judged = monitoring.erosion.enabled and s is not None
    erosion = erosion_judged and s is not None and s > monitoring.erosion.threshold

    def result(state: QualityState, reason: QualityReason, message: str) -> QualityAssessment:
        return QualityAssessment(
            state, reason, message, ratio, s, recent_rows, len(counted), drop=drop, erosion=erosion
        )

    span = f"{drop_start}..{last}" if drop_start != last else f"{last}"
    if drop:
        return result(
            QualityState.DROP,
            QualityReason.DEVIANCE_DROP,
            f"deviance ratio {ratio:.3f} > {drop_limit:.3f} on {span} ({recent_rows} rows)",
        )
    if erosion:
        return result(
            QualityState.EROSION,
            QualityReason.DEVIANCE_EROSION,
            f"CUSUM {s:.3f} > {monitoring.erosion.threshold:.3f} over {len(counted)} days since {counted[0].day}",
        )
    if not (drop_judged or erosion_judged):
        return result(
            QualityState.UNKNOWN,
            QualityReason.NOT_ENOUGH_ROWS,
            f"{recent_rows} rows on {span}; the detectors need at least {min_rows}",
        )
    parts = []
    if drop_judged:
        parts.append(f"deviance ratio {ratio:.3f} <= {drop_limit:.3f} on {span}")
    if erosion_judged:
        parts.append(f"CUSUM {s:.3f} <= {monitoring.erosion.threshold:.3f}")
    return result(QualityState.HEALTHY, QualityReason.WITHIN_LIMITS, "; ".join(parts))


def merge_daily(
    existing: Sequence[DailyQuality], new: Iterable[DailyQuality], keep: int = DAILY_KEEP
) -> list[DailyQuality]:
    """`existing` with `new` added, oldest first, at most the latest `keep` entries.

    An entry is one whole-day measurement of one version, so a new entry for a (day, version) already present
    replaces it rather than adding to it: a day measured again (late clicks arrived, an evaluation was retried)
    is never counted twice, and the later measurement, which saw more clicks, wins. Entries of other versions
    on the same day stay (during a promotion both versions predicted that day).
    """
    if keep < 0:
        raise ValueError(f"keep must not be negative, got {keep}")
    merged = {(d.day, d.version): d for d in existing}
    merged.update(((d.day, d.version), d) for d in new)
    ordered = [merged[k] for k in sorted(merged)]
    return ordered[max(0, len(ordered) - keep) :]
