"""Interim: the canary's sequential test (replaced by the full implementation on its branch)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from clickcast.api.duration import parse_duration
from clickcast.api.spec import Canary
from clickcast.api.status import CanarySums, Verdict


@dataclass(frozen=True)
class TestSettings:
    confidence_level: float
    margin: float
    min_observations: int
    max_looks: int | None

    @classmethod
    def from_canary(cls, canary: Canary) -> TestSettings:
        looks = parse_duration(canary.max_duration) // parse_duration(canary.interval)
        return cls(canary.confidence_level, canary.max_deviance_increase, canary.min_observations, max(1, looks))


@dataclass(frozen=True)
class Assessment:
    verdict: Verdict
    observations: int
    deviance_ratio: float | None
    ratio_low: float | None
    ratio_high: float | None
    message: str = ""


def add(a: CanarySums, b: CanarySums) -> CanarySums:
    return CanarySums.model_validate({k: getattr(a, k) + getattr(b, k) for k in CanarySums.model_fields})


def assess(sums: CanarySums, settings: TestSettings, *, paired: bool, looks: int) -> Assessment:
    n = min(sums.stable_n, sums.candidate_n)
    ratio = sums.candidate_sum / sums.candidate_n / (sums.stable_sum / sums.stable_n) if n and sums.stable_sum else None
    if n < settings.min_observations or ratio is None:
        verdict = Verdict.INCONCLUSIVE if settings.max_looks and looks >= settings.max_looks else Verdict.RUNNING
        return Assessment(verdict, n, ratio, None, None, f"{n} of {settings.min_observations} observations")
    k = 1 + settings.margin
    ms, mc = sums.stable_sum / sums.stable_n, sums.candidate_sum / sums.candidate_n
    vs = max(sums.stable_sum_sq / sums.stable_n - ms * ms, 1e-12)
    vc = max(sums.candidate_sum_sq / sums.candidate_n - mc * mc, 1e-12)
    if paired:
        cov = sums.cross_sum / n - ms * mc
        var = max(vc - 2 * k * cov + k * k * vs, 1e-12) / n
    else:
        var = vc / sums.candidate_n + k * k * vs / sums.stable_n
    alpha = 1 - settings.confidence_level
    z = NormalDist().inv_cdf(1 - alpha / (2 * math.log(max(looks, 2)) + 2))  # crude union bound over looks
    diff = mc - k * ms
    half = z * math.sqrt(var)
    low, high = (mc - half) / ms, (mc + half) / ms
    if diff + half < 0:
        verdict = Verdict.PASS
    elif diff - half > 0:
        verdict = Verdict.FAIL
    elif settings.max_looks and looks >= settings.max_looks:
        verdict = Verdict.INCONCLUSIVE
    else:
        verdict = Verdict.RUNNING
    return Assessment(verdict, n, ratio, low, high)
