"""Canary sequential test: error rates, time to a decision against a fixed-horizon test, replay speed.

    .venv/bin/pytest bench/test_canary_bench.py -m bench -s -p no:cacheprovider

Prints a table per design (the simulation of `tests.canary_sim`: 2,000 streams, looks of 250 offer-days,
delta = 0.02, alpha = 0.05, minObservations 500) and the seconds `clickcast canary replay` takes on
10M rows of 2,000 streams.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests import canary_sim as sim

from clickcast.analysis import sequential

pytestmark = pytest.mark.bench

STREAMS, ROWS, PER_LOOK, DELTA = 2000, 20_000, 250, 0.02
SETTINGS = sequential.TestSettings(margin=DELTA, min_observations=500, max_looks=ROWS // PER_LOOK)


def sd_of_difference(scenario: sim.Scenario, paired: bool) -> float:
    """Per-offer-day sd of c - (1+delta) s (two-sample: of the estimator x sqrt(n)), on 2M offer-days."""
    stable, candidate = sim.simulate(scenario, 1, 2_000_000, seed=99, paired=paired)
    if paired:
        return float(np.std(candidate - (1 + DELTA) * stable))
    return float(np.sqrt(candidate.var() + (1 + DELTA) ** 2 * stable.var()))


@pytest.mark.parametrize("paired", [True, False], ids=["paired", "two-sample"])
def test_error_rates_and_time_to_decision(paired: bool) -> None:
    scenarios = [sim.Scenario("equal (ratio 1)", 1.0), sim.Scenario("boundary (1+d)", 1 + DELTA),
                 sim.Scenario("worse (1+3d)", 1 + 3 * DELTA)]  # fmt: skip
    if paired:
        scenarios.append(sim.Scenario("rare defect 0.2% (1+d)", 1 + DELTA, defect_share=0.002))
    print(f"\n{'paired' if paired else 'two-sample'}: {STREAMS} streams, up to {ROWS} offer-days per version, "
          f"{ROWS // PER_LOOK} looks, delta {DELTA}, alpha {SETTINGS.alpha:.2f}, minObservations 500")  # fmt: skip
    print("| scenario | Pass | Fail | Inconclusive | median offer-days to a verdict | fixed-horizon n "
          "| naive peeking: Pass / Fail | plug-in (no floor): Pass |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for scenario in scenarios:
        started = time.perf_counter()
        sums = sim.simulate_sums(scenario, STREAMS, ROWS, PER_LOOK, seed=21, paired=paired)
        outcome = sim.run(sums, SETTINGS, paired=paired)
        plug_in = sim.run(sums, sequential.TestSettings(**{**SETTINGS.__dict__, "spread_floor": 0.0}), paired=paired)
        naive = sim.naive_peeking(sums, SETTINGS) if paired else None
        decided = outcome.rate(sequential.PASS) + outcome.rate(sequential.FAIL)
        effect = abs(scenario.ratio - (1 + DELTA)) * sim.expected_deviance(sim.STABLE_NOISE)
        # What one look at alpha needs for the power the sequential test reached, on the same scenario.
        fixed = (sim.fixed_horizon_n(SETTINGS, sd_of_difference(scenario, paired), effect, min(decided, 0.99))
                 if effect > 0 and decided > 0.5 else None)  # fmt: skip
        naive_text = f"{naive.rate(sequential.PASS):.3f} / {naive.rate(sequential.FAIL):.3f}" if naive else "-"
        print(f"| {scenario.name} | {outcome.rate(sequential.PASS):.3f} | {outcome.rate(sequential.FAIL):.3f} "
              f"| {outcome.rate(sequential.INCONCLUSIVE):.3f} | {outcome.median_observations():.0f} "
              f"| {fixed if fixed else '-'} | {naive_text} | {plug_in.rate(sequential.PASS):.3f} |"
              f"  ({time.perf_counter() - started:.1f} s)")  # fmt: skip


def test_replay_speed(tmp_path: Path) -> None:
    rows, streams = 10_000_000, 2000
    rng = np.random.default_rng(5)
    lam = rng.gamma(0.6, 2.0 / 0.6, rows)
    table = pa.table({
        "stream": rng.integers(0, streams, rows), "look": np.sort(rng.integers(1, 145, rows)),
        "actual": rng.poisson(lam), "stable": lam * np.exp(0.4 * rng.standard_normal(rows) - 0.08),
        "candidate": lam * np.exp(0.45 * rng.standard_normal(rows) - 0.10125),
    })  # fmt: skip
    path = tmp_path / "evidence.parquet"
    pq.write_table(table, path)
    del table, lam
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "clickcast.cli.main", "canary", "replay", str(path), "--json"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    seconds = time.perf_counter() - started
    verdicts = [json.loads(line)["verdict"] for line in done.stdout.splitlines()]
    counts = {v: verdicts.count(v) for v in sorted(set(verdicts))}
    print(f"\nreplay: {rows:,} rows, {streams} streams, 144 looks: {seconds:.1f} s "
          f"(process start, parquet read and JSON included); verdicts {counts}")  # fmt: skip
    assert len(verdicts) == streams
