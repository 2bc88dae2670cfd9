"""Quality tracking in the lifecycle core: periodic evaluations, the Healthy condition, autoRetrain."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clickcast.api.status import ClickModelStatus, ConditionStatus, ConditionType, Metrics, Phase, QualityState
from clickcast.core import StartEvaluation, StartTraining, decide
from clickcast.core.conditions import condition
from tests.unit.core_world import NAME, NOW, World, drive, spec
from tests.unit.test_core_decide import serving_status, stable

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
    # Each run asks only for the days after the last one measured.
    assert starts[0].after is None and starts[1].after is not None and starts[2].after > starts[1].after  # type: ignore[operator]
    m = final.monitoring
    assert m is not None and m.state is QualityState.HEALTHY and len(m.daily) == m.evaluations >= 3
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
