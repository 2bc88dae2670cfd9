"""The canary's always-valid sequential test on real clicks. Purely computational (numpy and stdlib).

How the canary decides
======================

Each offer-day with real clicks gives each version a Poisson unit deviance (`metrics.poisson_unit_deviance`):
s for the stable version, c for the candidate. With margin δ (`spec.canary.maxDevianceIncrease`) and
alpha = 1 - `confidenceLevel`, the question is whether the ratio of mean deviances E[c] / E[s] is below or above
1 + δ, i.e. whether the mean of c - (1+δ)·s is below or above 0.

- **Paired** (shadow mode: both versions predicted the same offer-days): the mean of D_i = c_i - (1+δ)·s_i,
  with t = pairs observations.
- **Two-sample** (split mode: independent offer-days): mean(c) - (1+δ)·mean(s), with the variance of a
  difference of means, var(c)/n_c + (1+δ)²·var(s)/n_s, and t = n_c + n_s (each offer-day is one unit of
  the randomised experiment; Waudby-Smith et al., section on A/B tests).

**Method**: an asymptotic confidence sequence (Waudby-Smith, Arbour, Sinha, Kennedy, Ramdas, "Time-uniform
central limit theory and asymptotic confidence sequences", 2021/2024): the estimate ± z_t · se, where se is
the plug-in standard error and z_t is the one-sided normal-mixture boundary of Howard, Ramdas, McAuliffe,
Sekhon ("Time-uniform, nonparametric, nonasymptotic confidence sequences", 2021, eq. 14) in its closed
form, which is slightly conservative against the exact mixture::

    z_t = sqrt(2 (t + rho) / t · log(1 + sqrt((t + rho) / rho) / (2·alpha)))

with rho fixed in advance so that the boundary is tightest at t* = `minObservations` (the first time a verdict
is allowed): rho = t* / (2 log(1/(2·alpha)) + log(1 + 2 log(1/(2·alpha)))). z_t is about 2.8 at t* for
alpha = 0.05 and grows like sqrt(log t) afterwards, the price of looking as often as one likes (a
fixed-horizon one-sided test uses 1.645 once).

**Decision**: **Fail** when the lower bound of mean(D) is above 0 (the candidate is worse than 1+δ times
stable), **Pass** when the upper bound is below 0, both only once each version has `minObservations`
offer-days and the stable version's mean deviance is itself distinguished from 0 (else the ratio is
unbounded; this never binds in practice). **Inconclusive** after `maxDuration / interval` looks without
either; **Running** before. Each side is a one-sided boundary at alpha, so, however many looks:
P(Pass | true ratio ≥ 1+δ) ≤ alpha and P(Fail | true ratio ≤ 1+δ) ≤ alpha (asymptotically, as the CLT-based
confidence sequence is). `assess` is a function of the cumulative sums and the look count alone; the
verdict is final because the caller stops at the first one (the replay takes the first decisive look).

**The ratio** is reported as mean(c)/mean(s) with bounds from inverting the same test in r: the set of r for
which mean(c - r·s) ± z_t·se(r) contains 0 is a Fieller-style quadratic inequality. Together the bounds
form a 1 - 2·alpha confidence sequence (each side alpha), and Pass ⇔ ratio_high < 1+δ, Fail ⇔ ratio_low > 1+δ
(the same inequality solved for r; equal up to rounding).

**Pitfall guard**: deviances are heavy-tailed and their differences can be extremely skewed: a candidate
equal to stable on almost every offer-day but badly wrong on a rare segment. Early on the rare rows are
not yet seen, the plug-in variance of D is that of the common rows (tiny, as paired deviances nearly
cancel), and the confidence sequence collapses onto a mean that is too low: a plug-in test passes such a
candidate far more often than alpha (`tests/unit/analysis/test_sequential.py` shows it). The guard is a **spread floor
fixed in advance**: the standard deviation of D(r) per offer-day is taken as at least φ·r·mean(s), with
φ = `spread_floor` = 0.5 (in the two-sample design the floor applies to the difference of means the same
way, with the mean of 1/n_c and 1/n_s). Two genuinely different models differ by more than that per
offer-day (in the simulations: 0.57·mean(s) for a retrain whose errors correlate 0.9 with stable's, 1.6
for independent errors), so the floor rarely binds, but it keeps a Pass from coming before about
(z_t·φ·(1+δ)/δ)² offer-days (about 6,000 for δ = 0.02), long enough for a defect on 1 offer-day in 500 to
show up: in the simulations such a candidate, on the boundary, passes 1.8% of the time with the floor and
68% without. No test can protect against defects rarer than about 1 in the sample size (Bahadur and Savage,
1956): for those rely on the validation gates' segments.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import numpy.typing as npt

from clickcast.analysis.metrics import poisson_unit_deviance
from clickcast.api.duration import parse_duration
from clickcast.api.spec import Canary
from clickcast.api.status import CanarySums, Verdict

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ArrayLike = npt.ArrayLike

DEFAULT_SPREAD_FLOOR = 0.5
"""φ: the per-offer-day standard deviation of c - r·s is taken as at least φ·r·mean(s) (the skewness guard)."""

VERDICTS: tuple[Verdict, ...] = (Verdict.RUNNING, Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE)
"""Verdicts by the integer code the vectorised core returns (0 Running, 1 Pass, 2 Fail, 3 Inconclusive)."""
RUNNING, PASS, FAIL, INCONCLUSIVE = range(4)

SUM_FIELDS = ("stable_n", "stable_sum", "stable_sum_sq", "candidate_n", "candidate_sum", "candidate_sum_sq",
              "pairs", "cross_sum")  # fmt: skip
"""The CanarySums fields the test reads (the calibration sums are for a guardrail, not for the test)."""


@dataclass(frozen=True)
class TestSettings:
    """The test's parameters, fixed before the first look."""

    __test__ = False  # not a pytest class

    confidence_level: float = 0.95
    """1 - alpha: each wrong verdict (Pass of a worse candidate, Fail of a good one) has probability at most alpha."""
    margin: float = 0.02
    """δ: Pass when the candidate's mean deviance is at most (1+δ) times stable's, Fail when above."""
    min_observations: int = 1000
    """Offer-days each version needs before any verdict."""
    max_looks: int | None = None
    """Looks after which a canary without a verdict is Inconclusive (None: never)."""
    spread_floor: float = DEFAULT_SPREAD_FLOOR
    """φ of the skewness guard; 0 turns it off (the plain plug-in, only for showing why it is there)."""
    target_observations: int | None = None
    """t* at which the boundary is tightest (None: `min_observations`; in units of the test's t)."""

    def __post_init__(self) -> None:
        if not 0.5 <= self.confidence_level < 1:
            raise ValueError(f"confidence level must be within [0.5, 1), got {self.confidence_level}")
        if self.margin < 0:
            raise ValueError(f"margin must be at least 0, got {self.margin}")
        if self.min_observations < 2:
            raise ValueError(f"min observations must be at least 2, got {self.min_observations}")
        if self.max_looks is not None and self.max_looks < 1:
            raise ValueError(f"max looks must be at least 1, got {self.max_looks}")
        if self.spread_floor < 0:
            raise ValueError(f"spread floor must be at least 0, got {self.spread_floor}")

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence_level

    @property
    def rho(self) -> float:
        """The normal mixture's rho (in observations), tightest at `target_observations`."""
        t_star = self.target_observations or self.min_observations
        log_term = math.log(1.0 / (2.0 * self.alpha))
        return t_star / (2.0 * log_term + math.log(1.0 + 2.0 * log_term))

    @classmethod
    def from_canary(cls, canary: Canary) -> TestSettings:
        """Settings of `spec.canary`: max looks = maxDuration // interval (at least 1)."""
        interval = parse_duration(canary.interval)
        looks = parse_duration(canary.max_duration) // interval if interval > timedelta(0) else 1
        return cls(
            confidence_level=canary.confidence_level,
            margin=canary.non_inferiority_margin,
            min_observations=canary.min_observations,
            max_looks=max(1, int(looks)),
        )


@dataclass(frozen=True)
class Assessment:
    """The test's outcome after one look."""

    verdict: Verdict
    observations: int
    """Offer-days per version (the smaller count in the two-sample design)."""
    deviance_ratio: float | None
    """mean(candidate deviance) / mean(stable deviance)."""
    ratio_low: float | None
    """Lower bound of the ratio's always-valid confidence sequence (at least 0)."""
    ratio_high: float | None
    """Upper bound (None while unbounded)."""
    message: str


@dataclass(frozen=True)
class Decisions:
    """The vectorised core's output, one element per (stream, look); see `judge`."""

    verdict: npt.NDArray[np.int8]
    """Codes into `VERDICTS`."""
    observations: IntArray
    deviance_ratio: FloatArray
    """NaN when undefined (no offer-days, or stable deviance 0)."""
    ratio_low: FloatArray
    """NaN when undefined."""
    ratio_high: FloatArray
    """NaN when undefined or unbounded."""


def boundary(t: ArrayLike, settings: TestSettings) -> FloatArray:
    """z_t: the one-sided normal-mixture boundary in standard errors at t observations (inf below 1)."""
    tt = np.asarray(t, dtype=np.float64)
    rho = settings.rho
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.sqrt(2.0 * (tt + rho) / tt * np.log1p(np.sqrt((tt + rho) / rho) / (2.0 * settings.alpha)))
    return np.where(tt >= 1, z, np.inf)


def _quadratic_interval(a: FloatArray, b: FloatArray, c: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Roots of a·r² + b·r + c for a < 0 (the set where it is ≥ 0 is between them); NaN elsewhere."""
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(np.maximum(b * b - 4.0 * a * c, 0.0))
        low = (-b + root) / (2.0 * a)
        high = (-b - root) / (2.0 * a)
    ok = a < 0
    return np.where(ok, low, np.nan), np.where(ok, high, np.nan)


def judge(sums: Mapping[str, ArrayLike], settings: TestSettings, *, paired: bool, looks: ArrayLike) -> Decisions:
    """The test over arrays of cumulative sums (any broadcastable shape, e.g. streams x looks) at once.

    `sums` maps the `SUM_FIELDS` names to arrays; `looks` is the number of analyses so far (this one
    included). `assess` and `clickcast canary replay` both call this, so they decide alike.
    """
    f = {name: np.asarray(sums[name], dtype=np.float64) for name in SUM_FIELDS}
    r0 = 1.0 + settings.margin
    phi2 = settings.spread_floor**2
    with np.errstate(divide="ignore", invalid="ignore"):
        if paired:
            n_s = n_c = f["pairs"]
            t = n_s
            h = 1.0 / n_s  # the floor's variance of a mean, per unit of per-offer-day variance
        else:
            n_s, n_c = f["stable_n"], f["candidate_n"]
            t = n_s + n_c
            h = 0.5 * (1.0 / n_s + 1.0 / n_c)
        m_s, m_c = f["stable_sum"] / n_s, f["candidate_sum"] / n_c
        var_s = np.maximum(f["stable_sum_sq"] - n_s * m_s * m_s, 0.0) / (n_s - 1.0)
        var_c = np.maximum(f["candidate_sum_sq"] - n_c * m_c * m_c, 0.0) / (n_c - 1.0)
        # The variance of the estimate of mean(c) - r·mean(s) is q0 + q1·r + q2·r² (plug-in) or
        # phi2·h·m_s²·r² (the floor), whichever is larger at r.
        if paired:
            cov = (f["cross_sum"] - n_s * m_s * m_c) / (n_s - 1.0)
            q0, q1, q2 = var_c / n_c, -2.0 * cov / n_s, var_s / n_s
        else:
            q0, q1, q2 = var_c / n_c, np.zeros_like(var_c), var_s / n_s
        floor2 = phi2 * h * m_s * m_s
        z = boundary(t, settings)
        z2 = z * z
        estimate = m_c - r0 * m_s
        se = np.sqrt(np.maximum(q0 + q1 * r0 + q2 * r0 * r0, floor2 * r0 * r0))
        # Fieller: r is in the set where z²·var(r) - (m_c - r·m_s)² ≥ 0, for either variance.
        low1, high1 = _quadratic_interval(z2 * q2 - m_s * m_s, z2 * q1 + 2.0 * m_c * m_s, z2 * q0 - m_c * m_c)
        low2, high2 = _quadratic_interval(z2 * floor2 - m_s * m_s, 2.0 * m_c * m_s, -m_c * m_c)
        bounded = np.isfinite(high1) & np.isfinite(high2)
        observations = np.minimum(n_s, n_c)
        ready = (observations >= settings.min_observations) & (observations >= 2) & bounded
        fail = ready & (estimate - z * se > 0)
        win = ready & (estimate + z * se < 0)
        ratio = np.where(m_s > 0, m_c / m_s, np.nan)
    ratio_low = np.where(bounded, np.maximum(np.fmin(low1, low2), 0.0), np.nan)
    ratio_high = np.where(bounded, np.fmax(high1, high2), np.nan)
    ratio_low = np.where(observations >= 2, ratio_low, np.nan)
    ratio_high = np.where(observations >= 2, ratio_high, np.nan)
    out_of_time = np.zeros_like(fail) if settings.max_looks is None else np.asarray(looks) >= settings.max_looks
    verdict = np.where(fail, FAIL, np.where(win, PASS, np.where(out_of_time, INCONCLUSIVE, RUNNING)))
    return Decisions(
        verdict=verdict.astype(np.int8),
        observations=np.nan_to_num(observations).astype(np.int64),
        deviance_ratio=ratio,
        ratio_low=ratio_low,
        ratio_high=ratio_high,
    )


def first_decisive(verdict: npt.NDArray[np.int8], last: ArrayLike | None = None) -> IntArray:
    """Per row (a stream's looks, oldest first): the index of its first verdict other than Running.

    A verdict is final, so this is the look a stream ends at; a row without one gives `last` (its last
    look with evidence; default the last column).
    """
    decided = verdict != RUNNING
    fallback = np.full(verdict.shape[0], verdict.shape[1] - 1) if last is None else np.asarray(last)
    return np.where(decided.any(axis=1), decided.argmax(axis=1), fallback).astype(np.int64)


def _optional(x: FloatArray) -> float | None:
    value = float(x)
    return value if math.isfinite(value) else None


def _message(verdict: Verdict, a: Assessment, settings: TestSettings, looks: int) -> str:
    level = f"{settings.confidence_level:.0%} (always valid)"
    limit = f"{1 + settings.margin:.4g}"
    bounds = (
        f"[{a.ratio_low:.4g}, {a.ratio_high:.4g}]" if a.ratio_low is not None and a.ratio_high is not None else "[?, ?]"
    )
    ratio = f"deviance ratio {a.deviance_ratio:.4g} {bounds}" if a.deviance_ratio is not None else "no deviance yet"
    if verdict is Verdict.PASS:
        return f"candidate is within {limit}x stable's deviance: {ratio} at {level}, {a.observations} offer-days"
    if verdict is Verdict.FAIL:
        return f"candidate is worse than {limit}x stable's deviance: {ratio} at {level}, {a.observations} offer-days"
    if a.observations < settings.min_observations:
        wait = f"{a.observations} of {settings.min_observations} offer-days per version"
    else:
        wait = f"{ratio} contains {limit}"
    if verdict is Verdict.INCONCLUSIVE:
        return f"no verdict after {looks} looks: {wait}"
    return f"no verdict yet: {wait}"


def assess(sums: CanarySums, settings: TestSettings, *, paired: bool, looks: int) -> Assessment:
    """The canary's verdict from its cumulative sums after `looks` analyses (this one included).

    Pure: the same sums and look count always give the same assessment; the caller keeps the first
    verdict other than Running (a verdict is final). In the paired design the three counts must agree.
    """
    if paired and not sums.pairs == sums.stable_n == sums.candidate_n:
        raise ValueError(
            f"paired sums need pairs == stable_n == candidate_n, got {sums.pairs}, {sums.stable_n}, {sums.candidate_n}"
        )
    d = judge({name: getattr(sums, name) for name in SUM_FIELDS}, settings, paired=paired, looks=looks)
    verdict = VERDICTS[int(d.verdict)]
    bare = Assessment(
        verdict=verdict,
        observations=int(d.observations),
        deviance_ratio=_optional(d.deviance_ratio),
        ratio_low=_optional(d.ratio_low),
        ratio_high=_optional(d.ratio_high),
        message="",
    )
    return dataclasses.replace(bare, message=_message(verdict, bare, settings, looks))


def sums_of(stable: ArrayLike, candidate: ArrayLike, *, paired: bool) -> CanarySums:
    """The sums of per-offer-day unit deviances (paired: aligned arrays of the same offer-days).

    The calibration fields stay 0; `paired_sums` fills them from predictions.
    """
    s = np.asarray(stable, dtype=np.float64).ravel()
    c = np.asarray(candidate, dtype=np.float64).ravel()
    if paired and s.shape != c.shape:
        raise ValueError(f"paired deviances need the same length, got {s.size} and {c.size}")
    return CanarySums(
        stable_n=s.size,
        stable_sum=float(s.sum()),
        stable_sum_sq=float(s @ s),
        candidate_n=c.size,
        candidate_sum=float(c.sum()),
        candidate_sum_sq=float(c @ c),
        pairs=s.size if paired else 0,
        cross_sum=float(s @ c) if paired else 0.0,
    )


def paired_sums(actual: ArrayLike, stable_predicted: ArrayLike, candidate_predicted: ArrayLike) -> CanarySums:
    """Shadow mode: the sums of offer-days both versions predicted, calibration sums included."""
    y = np.asarray(actual, dtype=np.float64)
    mu_s = np.asarray(stable_predicted, dtype=np.float64)
    mu_c = np.asarray(candidate_predicted, dtype=np.float64)
    sums = sums_of(poisson_unit_deviance(y, mu_s), poisson_unit_deviance(y, mu_c), paired=True)
    total = float(y.sum())
    return sums.model_copy(
        update={
            "stable_predicted": float(mu_s.sum()),
            "stable_actual": total,
            "candidate_predicted": float(mu_c.sum()),
            "candidate_actual": total,
        }
    )


def add(a: CanarySums, b: CanarySums) -> CanarySums:
    """Field-wise sum: the evidence of `a` followed by that of `b`."""
    return CanarySums(**{name: getattr(a, name) + getattr(b, name) for name in CanarySums.model_fields})


def subtract(a: CanarySums, b: CanarySums) -> CanarySums:
    """Field-wise difference: `a` without the evidence of `b` (part of it), as when a day measured again is replaced."""
    return CanarySums(**{name: getattr(a, name) - getattr(b, name) for name in CanarySums.model_fields})
