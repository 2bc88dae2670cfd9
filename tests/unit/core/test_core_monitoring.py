"""Quality tracking in the lifecycle core: periodic evaluations, the Healthy condition, autoRetrain."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clickcast.api.status import ClickModelStatus, ConditionStatus, ConditionType, Metrics, Phase, QualityState
from clickcast.core import StartEvaluation, StartTraining, decide
from clickcast.core.conditions import condition
from tests.unit.core.core_world import NAME, NOW, World, drive, spec
from tests.unit.core.test_core_decide import V1, serving_status, stable

pytestmark = pytest.mark.unit

HOUR = timedelta(hours=1)


def watched(**extra: object) -> ClickModelStatus:
    return serving_status(stable=stable().model_copy(update={"metrics": Metrics(rows=9000, poisson_deviance=1.0)}),
                          phase_since=NOW, **extra)  # fmt: skip


def test_a_serving_model_is_evaluated_each_interval_on_new_days_only() -> None:
    status = watched()
    early = decide(NAME, spec(), status, World().observe(status), NOW + timedelta(minutes=30))
    assert not any(isinstance(a, StartEvaluation) for a in early.actions)
    assert early.status.monitoring is not None and early.status.monitoring.job_name is None
    w = World(quality_ratio=1.0)
    final, plans = drive(w, spec(), status, now=NOW + HOUR, steps=8, tick=HOUR)
    starts = [a for p in plans for a in p.actions if isinstance(a, StartEvaluation)]
    assert [a.name for a in starts][:3] == [f"{NAME}-quality-1", f"{NAME}-quality-2", f"{NAME}-quality-3"]
    # Each run asks for the days after the last one measured, and again the 2 days before it (late clicks).
    assert starts[0].after is None and starts[1].after is not None and starts[2].after > starts[1].after  # type: ignore[operator]
    through = [p.status.monitoring.evaluated_through for p in plans if p.status.monitoring]
    firsts = list(dict.fromkeys(t for t in through if t is not None))
    assert [a.after for a in starts[1:3]] == [day - timedelta(days=2) for day in firsts[:2]]
    m = final.monitoring
    # A day measured again replaced its entry: one entry per day, however many runs measured it.
    assert m is not None and m.state is QualityState.HEALTHY and len(m.daily) == m.evaluations >= 3
    assert len({d.day for d in m.daily}) == len(m.daily)


def test_without_late_click_days_each_run_measures_only_new_days() -> None:
    final, plans = drive(World(), spec(**{"monitoring.lateClickDays": 0}), watched(), now=NOW + HOUR, steps=8,
                         tick=HOUR)  # fmt: skip
    starts = [a for p in plans for a in p.actions if isinstance(a, StartEvaluation)]
    through = list(dict.fromkeys(p.status.monitoring.evaluated_through for p in plans if p.status.monitoring))
    assert [a.after for a in starts] == through[: len(starts)]
    assert final.monitoring is not None and len(final.monitoring.daily) == final.monitoring.evaluations >= 3
    assert condition(final.conditions, ConditionType.HEALTHY).status is ConditionStatus.TRUE  # type: ignore[union-attr]


@pytest.mark.parametrize("auto_retrain", [False, True])
def test_a_quality_drop_sets_healthy_false_and_retrains_when_asked(auto_retrain: bool) -> None:
    w = World(quality_ratio=1.6)
    s = spec(**{"monitoring.autoRetrain": auto_retrain})
    final, plans = drive(w, s, watched(), now=NOW + HOUR, steps=6, tick=HOUR)
    events = [e for p in plans for e in p.events]
    drop = [e for e in events if e.reason == "QualityDrop"]
    assert len(drop) == 1 and drop[0].type == "Warning"
    healthy = condition(final.conditions, ConditionType.HEALTHY)
    assert healthy is not None and (healthy.status, healthy.reason) == (ConditionStatus.FALSE, "DevianceDrop")
    trainings = [a for p in plans for a in p.actions if isinstance(a, StartTraining)]
    assert bool(trainings) is auto_retrain
    if auto_retrain:
        assert final.training is not None and final.training.reason == "QualityDegraded"
        assert final.phase is not Phase.SERVING or final.stable is not None


def test_a_promoted_version_starts_unmeasured_and_its_predecessors_drop_stays_in_history() -> None:
    w = World(quality_ratio=1.6, canary_ratio=0.9)
    s = spec(**{"monitoring.autoRetrain": True, "monitoring.interval": "1h", "canary.interval": "1h"})
    status, now, first_promoted = watched(), NOW + HOUR, None
    for _ in range(40):
        plan = decide(NAME, s, status, w.observe(status), now)
        w.apply(plan, None)
        status, now = plan.status, now + timedelta(minutes=20)
        if status.history and status.history[0].decision == "Promoted":
            first_promoted = status
            break
    assert first_promoted is not None, "the drop retrained and the new version was promoted"
    healthy = condition(first_promoted.conditions, ConditionType.HEALTHY)
    assert healthy is not None and (healthy.status, healthy.reason) == (ConditionStatus.UNKNOWN, "NewStable")
    m = first_promoted.monitoring
    assert m is not None and m.state is QualityState.UNKNOWN and m.deviance_ratio is None and m.cusum is None
    assert {d.version for d in m.daily} == {V1}, "the replaced version's days stay in the series"
    entry = first_promoted.history[0]
    assert "(its quality: Drop)" in entry.message
    assert entry.canary is not None and entry.canary.verdict == "Pass" and entry.canary.looks
    assert entry.canary.sums.stable_n == 0, "the test's running sums are not kept in history"
