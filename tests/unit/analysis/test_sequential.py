"""The canary's sequential test: its error rates under continuous monitoring, on 1,000 simulated streams.

Every stream is looked at after each interval (40 looks of 250 offer-days, as the operator would) and its
first verdict is final. The true deviance ratio is exact (see `tests.canary_sim`), so a boundary candidate
sits exactly at 1+δ. A simulated error rate must stay below `monte_carlo_limit(alpha, streams)`: what 1,000
streams show with probability 0.999 if the true rate were alpha (0.071 for alpha = 0.05).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pytest

from clickcast.analysis import sequential
from clickcast.analysis.metrics import poisson_unit_deviance
from clickcast.api.spec import Canary
from clickcast.api.status import CanarySums, Verdict
from tests import canary_sim as sim

pytestmark = pytest.mark.unit

STREAMS, ROWS, PER_LOOK = 1000, 10_000, 250
DELTA = 0.02
SETTINGS = sequential.TestSettings(
    confidence_level=0.95, margin=DELTA, min_observations=500, max_looks=ROWS // PER_LOOK
)
LIMIT = sim.monte_carlo_limit(SETTINGS.alpha, STREAMS)


@pytest.fixture(scope="module")
def simulated() -> Callable[..., dict[str, sim.F]]:
    cache: dict[tuple[object, ...], dict[str, sim.F]] = {}

    def get(scenario: sim.Scenario, *, paired: bool = True) -> dict[str, sim.F]:
        key = (scenario, paired)
        if key not in cache:
            cache[key] = sim.simulate_sums(scenario, STREAMS, ROWS, PER_LOOK, seed=11, paired=paired)
        return cache[key]

    return get


BOUNDARY = sim.Scenario("boundary", 1 + DELTA)
EQUAL = sim.Scenario("equal", 1.0)
WORSE = sim.Scenario("worse", 1 + 3 * DELTA)
RARE_DEFECT = sim.Scenario("rare defect", 1 + DELTA, defect_share=0.002)


def test_simulated_truth_is_exact() -> None:
    """The closed-form ratio that puts a candidate on the boundary agrees with a large sample."""
    stable, candidate = sim.simulate(BOUNDARY, 1, 2_000_000, seed=3)
    assert candidate.mean() / stable.mean() == pytest.approx(1 + DELTA, abs=0.002)
    stable, candidate = sim.simulate(RARE_DEFECT, 1, 4_000_000, seed=3)
    assert candidate.mean() / stable.mean() == pytest.approx(1 + DELTA, abs=0.004)


def test_boundary_candidate_passes_at_most_alpha(simulated: Callable[..., dict[str, sim.F]]) -> None:
    outcome = sim.run(simulated(BOUNDARY), SETTINGS)
    assert outcome.rate(sequential.PASS) <= LIMIT
    assert outcome.rate(sequential.FAIL) <= LIMIT  # ratio ≤ 1+δ holds too: failing it is an error as well


def test_peeking_at_a_fixed_horizon_test_breaks_alpha(simulated: Callable[..., dict[str, sim.F]]) -> None:
    """The reason for a confidence sequence: a one-sided t-test at alpha re-run at each of 40 looks."""
    naive = sim.naive_peeking(simulated(BOUNDARY), SETTINGS)
    assert naive.rate(sequential.PASS) > 2 * LIMIT


def test_equal_candidate_passes_and_is_not_failed(simulated: Callable[..., dict[str, sim.F]]) -> None:
    outcome = sim.run(simulated(EQUAL), SETTINGS)
    assert outcome.rate(sequential.FAIL) <= LIMIT
    assert outcome.rate(sequential.PASS) >= 0.7


def test_clearly_worse_candidate_never_passes_and_fails_early(simulated: Callable[..., dict[str, sim.F]]) -> None:
    outcome = sim.run(simulated(WORSE), SETTINGS)
    assert outcome.rate(sequential.PASS) == 0
    assert outcome.rate(sequential.FAIL) >= 0.99
    assert outcome.median_observations() <= 3000


def test_two_sample_design_keeps_alpha(simulated: Callable[..., dict[str, sim.F]]) -> None:
    boundary = sim.run(simulated(BOUNDARY, paired=False), SETTINGS, paired=False)
    assert boundary.rate(sequential.PASS) <= LIMIT
    assert boundary.rate(sequential.FAIL) <= LIMIT
    equal = sim.run(simulated(EQUAL, paired=False), SETTINGS, paired=False)
    assert equal.rate(sequential.FAIL) <= LIMIT
    assert equal.rate(sequential.PASS) > equal.rate(sequential.FAIL)


def test_rare_defect_is_held_back_by_the_spread_floor(simulated: Callable[..., dict[str, sim.F]]) -> None:
    """The pitfall: a candidate equal to stable except on 0.2% of offer-days, exactly on the boundary.

    The plug-in variance sees only the common rows at first (where the paired deviances nearly cancel)
    and passes it most of the time; the spread floor keeps the Pass rate within alpha.
    """
    sums = simulated(RARE_DEFECT)
    guarded = sim.run(sums, SETTINGS)
    plug_in = sim.run(sums, sequential.TestSettings(**{**SETTINGS.__dict__, "spread_floor": 0.0}))
    assert guarded.rate(sequential.PASS) <= LIMIT
    assert plug_in.rate(sequential.PASS) > 4 * LIMIT


def random_sums(rng: np.random.Generator, n: int, ratio: float) -> tuple[CanarySums, CanarySums]:
    y = rng.poisson(2.0, n)
    stable = poisson_unit_deviance(y, 2.0 * np.exp(0.3 * rng.standard_normal(n)))
    candidate = poisson_unit_deviance(y, 2.0 * np.exp(ratio * 0.3 * rng.standard_normal(n)))
    return sequential.sums_of(stable, candidate, paired=True), sequential.sums_of(stable, candidate, paired=False)


@pytest.mark.parametrize("paired", [True, False], ids=["paired", "two-sample"])
def test_verdict_matches_the_ratio_bounds(paired: bool) -> None:
    """Pass ⇔ ratio_high < 1+δ and Fail ⇔ ratio_low > 1+δ, on sums of every kind of outcome."""
    rng = np.random.default_rng(5)
    seen = set()
    for i in range(300):
        sums = random_sums(rng, int(rng.integers(600, 8000)), float(rng.uniform(0.2, 2.5)))[0 if paired else 1]
        a = sequential.assess(sums, sequential.TestSettings(min_observations=500), paired=paired, looks=i + 1)
        assert a.ratio_low is not None and a.ratio_high is not None and a.deviance_ratio is not None
        assert a.ratio_low <= a.deviance_ratio <= a.ratio_high
        assert (a.verdict is Verdict.PASS) == (a.ratio_high < 1.02)
        assert (a.verdict is Verdict.FAIL) == (a.ratio_low > 1.02)
        seen.add(a.verdict)
    assert seen == {Verdict.PASS, Verdict.FAIL, Verdict.RUNNING}


def test_running_before_min_observations_and_inconclusive_at_max_looks() -> None:
    paired, _ = random_sums(np.random.default_rng(1), 400, 3.0)  # clearly worse, but too few offer-days
    settings = sequential.TestSettings(min_observations=500, max_looks=4)
    early = sequential.assess(paired, settings, paired=True, looks=3)
    assert early.verdict is Verdict.RUNNING and early.observations == 400
    assert "400 of 500 offer-days" in early.message
    assert sequential.assess(paired, settings, paired=True, looks=4).verdict is Verdict.INCONCLUSIVE
    decided = sequential.assess(paired, sequential.TestSettings(min_observations=100), paired=True, looks=1)
    assert decided.verdict is Verdict.FAIL
    empty = sequential.assess(CanarySums(), settings, paired=True, looks=1)
    assert (empty.verdict, empty.deviance_ratio, empty.ratio_low) == (Verdict.RUNNING, None, None)


def test_sums_add_up_and_paired_counts_must_agree() -> None:
    rng = np.random.default_rng(2)
    s, c = rng.gamma(0.5, 2.0, 1000), rng.gamma(0.5, 2.0, 1000)
    whole = sequential.sums_of(s, c, paired=True)
    parts = sequential.add(
        sequential.sums_of(s[:300], c[:300], paired=True), sequential.sums_of(s[300:], c[300:], paired=True)
    )
    for name, value in whole.model_dump().items():
        assert getattr(parts, name) == pytest.approx(value)
    with pytest.raises(ValueError, match="pairs"):
        sequential.assess(sequential.sums_of(s, c, paired=False), sequential.TestSettings(), paired=True, looks=1)
    sums = sequential.paired_sums([0, 1, 3], [0.5, 1.0, 2.0], [0.4, 1.2, 2.5])
    assert (sums.pairs, sums.stable_predicted, sums.candidate_actual) == (3, 3.5, 4.0)


def test_boundary_is_howards_one_sided_normal_mixture() -> None:
    """At t = t* = 100 and alpha = 0.05 the exact mixture bound is 27.66 (confseq's own test); ours is its
    closed-form upper bound, at most 1% wider."""
    z = float(sequential.boundary(100, sequential.TestSettings(min_observations=100)))
    assert 27.66071 <= z * 10 <= 27.66071 * 1.01
    later = sequential.boundary([100, 1000, 100_000], sequential.TestSettings(min_observations=100))
    assert np.all(np.diff(later) > 0)  # the price of looking forever grows like sqrt(log t)


def test_settings_from_the_canary_spec() -> None:
    canary = Canary.model_validate({"interval": "15m", "maxDuration": "6h", "minObservations": 200,
                                    "confidenceLevel": 0.9, "maxDevianceIncrease": 0.05})  # fmt: skip
    settings = sequential.TestSettings.from_canary(canary)
    assert (settings.max_looks, settings.min_observations, settings.margin) == (24, 200, 0.05)
    assert settings.alpha == pytest.approx(0.1)
    assert timedelta(hours=6) // timedelta(minutes=15) == 24
