"""Simulated canaries for the sequential test: many streams of offer-days at once, as matrices.

An offer-day has a true click rate λ ~ Gamma(shape 0.6, mean 2) (heavy-tailed: a few offers get most
clicks) and real clicks y ~ Poisson(λ). The stable version predicts λ·exp(sigma_s ε - sigma_s²/2) with
ε ~ N(0, 1) (mean-unbiased, sigma_s = 0.4); the candidate the same with its own noise sigma_c. The TRUE deviance
ratio is known in closed form: E[d] = 2 (K + sigma² E[λ] / 2) with K = E[y log y] - E[λ log λ], which is
computed exactly from the negative binomial law of y and the digamma function, so a candidate can be put
exactly on the boundary 1+δ (no Monte-Carlo error in the truth).

The rare-defect candidate (the skewness pitfall) equals stable except on a share p of offer-days where
it predicts M times too many clicks; E[d_c] - E[d_s] = p · 2 E[λ] (M - 1 - log M) sets M for a target.

Streams x rows matrices are cut into looks of `per_look` rows; `cumulative_sums` gives the sums the
operator would store after each look, as arrays for `clickcast.analysis.sequential.judge`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from clickcast.analysis import sequential
from clickcast.analysis.metrics import poisson_unit_deviance

F = npt.NDArray[np.float64]

SHAPE = 0.6
MEAN_RATE = 2.0
SCALE = MEAN_RATE / SHAPE
STABLE_NOISE = 0.4


def _digamma(x: float) -> float:
    acc = 0.0
    while x < 6.0:
        acc -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    return acc + math.log(x) - 0.5 / x - f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))))


def _poisson_noise() -> float:
    """K = E[y log y] - E[λ log λ]: the part of the expected deviance no prediction can remove."""
    p = 1.0 / (1.0 + SCALE)  # y is negative binomial(SHAPE, p)
    y = np.arange(1, 20_000, dtype=np.float64)
    log_pmf = (np.array([math.lgamma(v + SHAPE) for v in y]) - math.lgamma(SHAPE)
               - np.array([math.lgamma(v + 1) for v in y]) + SHAPE * math.log(p) + y * math.log1p(-p))  # fmt: skip
    y_log_y = float(np.sum(np.exp(log_pmf) * y * np.log(y)))
    lam_log_lam = SHAPE * SCALE * (_digamma(SHAPE + 1.0) + math.log(SCALE))
    return y_log_y - lam_log_lam


K = _poisson_noise()


def expected_deviance(noise: float) -> float:
    """E[d] of a prediction λ·exp(noise·ε - noise²/2)."""
    return 2.0 * (K + noise * noise * MEAN_RATE / 2.0)


def noise_for_ratio(ratio: float) -> float:
    """The candidate's sigma_c whose true deviance ratio to the stable version is `ratio`."""
    return math.sqrt((ratio * expected_deviance(STABLE_NOISE) / 2.0 - K) * 2.0 / MEAN_RATE)


def defect_factor(ratio: float, share: float) -> float:
    """M such that over-predicting M-fold on a share of offer-days gives the true ratio (M > 1)."""
    target = (ratio - 1.0) * expected_deviance(STABLE_NOISE) / (2.0 * MEAN_RATE * share)
    low, high = 1.0, 1e6
    for _ in range(200):
        mid = math.sqrt(low * high)
        low, high = (mid, high) if mid - 1.0 - math.log(mid) < target else (low, mid)
    return low


@dataclass(frozen=True)
class Scenario:
    name: str
    ratio: float
    """The true deviance ratio."""
    defect_share: float = 0.0
    """> 0: the rare-defect candidate instead of the noisier one."""
    correlation: float = 0.9
    """Of the two versions' noises ε (paired design): a retrain errs mostly where stable errs."""


def simulate(scenario: Scenario, streams: int, rows: int, seed: int, *, paired: bool = True) -> tuple[F, F]:
    """Per-offer-day unit deviances (stable, candidate), each streams x rows.

    Two-sample: the candidate's offer-days are other offer-days (independent draws).
    """
    rng = np.random.default_rng(seed)
    shape = (streams, rows)

    def offer_days() -> tuple[F, F]:
        lam = rng.gamma(SHAPE, SCALE, size=shape)
        return lam, rng.poisson(lam).astype(np.float64)

    def predict(lam: F, noise: float, eps: F) -> F:
        return lam * np.exp(noise * eps - noise * noise / 2.0)

    lam, y = offer_days()
    eps = rng.standard_normal(shape)
    mu_s = predict(lam, STABLE_NOISE, eps)
    stable = poisson_unit_deviance(y, mu_s)
    if not paired:
        lam, y = offer_days()
        eps = rng.standard_normal(shape)
        mu_s = predict(lam, STABLE_NOISE, eps)
    if scenario.defect_share > 0:
        factor = defect_factor(scenario.ratio, scenario.defect_share)
        mu_c = np.where(rng.random(shape) < scenario.defect_share, mu_s * factor, mu_s)
    else:
        kappa = scenario.correlation if paired else 0.0
        eps_c = kappa * eps + math.sqrt(1.0 - kappa * kappa) * rng.standard_normal(shape)
        mu_c = predict(lam, noise_for_ratio(scenario.ratio), eps_c)
    return stable, poisson_unit_deviance(y, mu_c)


def cumulative_sums(stable: F, candidate: F, per_look: int, *, paired: bool = True) -> dict[str, F]:
    """The sums after each look (streams x looks), as the operator would store them."""
    streams, rows = stable.shape
    looks = rows // per_look

    def per(x: F) -> F:
        return np.cumsum(x[:, : looks * per_look].reshape(streams, looks, per_look).sum(axis=2), axis=1)

    n = np.broadcast_to(np.arange(1, looks + 1, dtype=np.float64) * per_look, (streams, looks))
    return {
        "stable_n": n, "stable_sum": per(stable), "stable_sum_sq": per(stable * stable),
        "candidate_n": n, "candidate_sum": per(candidate), "candidate_sum_sq": per(candidate * candidate),
        "pairs": n if paired else np.zeros_like(n),
        "cross_sum": per(stable * candidate) if paired else np.zeros_like(n),
    }  # fmt: skip


def simulate_sums(scenario: Scenario, streams: int, rows: int, per_look: int, seed: int, *, paired: bool = True,
                  chunk: int = 100) -> dict[str, F]:  # fmt: skip
    """`cumulative_sums` of `simulate`, a chunk of streams at a time (memory stays small)."""
    parts = [cumulative_sums(*simulate(scenario, min(chunk, streams - first), rows, seed + first, paired=paired),
                             per_look, paired=paired) for first in range(0, streams, chunk)]  # fmt: skip
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


@dataclass(frozen=True)
class Outcome:
    """Per stream: the first verdict (Running if none) and the observations at it."""

    verdict: npt.NDArray[np.int8]
    observations: npt.NDArray[np.int64]

    def rate(self, code: int) -> float:
        return float(np.mean(self.verdict == code))

    def median_observations(self) -> float:
        decided = self.verdict != sequential.RUNNING
        return float(np.median(self.observations[decided])) if decided.any() else math.nan


def first_verdicts(codes: npt.NDArray[np.int8], observations: npt.NDArray[np.int64]) -> Outcome:
    """The first look of each stream (row) whose code is not Running; a verdict is final."""
    first = sequential.first_decisive(codes)
    rows = np.arange(codes.shape[0])
    return Outcome(codes[rows, first], observations[rows, first])


def run(sums: dict[str, F], settings: sequential.TestSettings, *, paired: bool = True) -> Outcome:
    looks = np.arange(1, sums["stable_n"].shape[1] + 1)
    d = sequential.judge(sums, settings, paired=paired, looks=looks)
    return first_verdicts(d.verdict, d.observations)


def naive_peeking(sums: dict[str, F], settings: sequential.TestSettings) -> Outcome:
    """A fixed-horizon one-sided paired t-test at alpha, re-run at every look from min_observations on (wrong)."""
    r0 = 1.0 + settings.margin
    n = sums["pairs"]
    total = sums["candidate_sum"] - r0 * sums["stable_sum"]
    squares = sums["candidate_sum_sq"] - 2 * r0 * sums["cross_sum"] + r0 * r0 * sums["stable_sum_sq"]
    mean = total / n
    se = np.sqrt(np.maximum(squares / n - mean * mean, 0.0) / (n - 1))
    z = NormalDist().inv_cdf(settings.confidence_level)
    ready = n >= settings.min_observations
    fail = np.where(ready & (mean - z * se > 0), sequential.FAIL, sequential.RUNNING)
    codes = np.where(ready & (mean + z * se < 0), sequential.PASS, fail)
    if settings.max_looks is not None:
        codes = np.where((codes == sequential.RUNNING) & (np.arange(1, n.shape[1] + 1) >= settings.max_looks),
                         sequential.INCONCLUSIVE, codes)  # fmt: skip
    return first_verdicts(codes.astype(np.int8), n.astype(np.int64))


def monte_carlo_limit(alpha: float, trials: int, confidence: float = 0.999) -> float:
    """The largest error rate `trials` streams show with probability `confidence` when the true rate is alpha.

    The binomial's normal approximation: alpha + z_0.999 sqrt(alpha (1 - alpha) / trials), e.g. 0.071 for
    alpha = 0.05 and 1,000 streams. A simulated rate above it breaks alpha (a false alarm of this check
    has probability 0.001).
    """
    z = NormalDist().inv_cdf(confidence)
    return alpha + z * math.sqrt(alpha * (1.0 - alpha) / trials)


def fixed_horizon_n(settings: sequential.TestSettings, sd: float, effect: float, power: float) -> int:
    """Offer-days a one-look one-sided z-test at alpha needs to reach `power` at an effect of `effect` (per sd)."""
    z = NormalDist().inv_cdf
    return math.ceil(((z(settings.confidence_level) + z(power)) * sd / effect) ** 2)
