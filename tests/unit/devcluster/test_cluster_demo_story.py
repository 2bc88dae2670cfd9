"""The cluster demo's ClickModel and day plan, checked without a cluster (tests/k8s/test_cluster_demo.py runs it)."""

from __future__ import annotations

from pathlib import Path

from clickcast.api.spec import ClickModelSpec
from clickcast.demo.cluster import clickmodel, cluster_config


def test_the_cluster_demos_clickmodel_is_valid_and_its_days_fit(tmp_path: Path) -> None:
    cfg = cluster_config(tmp_path)
    doc = clickmodel(cfg, "demo")
    spec = ClickModelSpec.model_validate(doc["spec"])
    assert doc["metadata"] == {"name": "offers", "namespace": "demo"}
    assert spec.data.url == f"file://{tmp_path}/lake" and spec.canary.mode == "shadow"
    window = spec.data.window.train_days + spec.data.window.test_days
    # The first version learns only the days before the shift; the retrain's whole window follows it.
    assert window <= cfg.shift
    assert cfg.shift + cfg.gap - window >= cfg.shift
    # At least two days of traffic and clicks remain for the canary's looks.
    assert cfg.days - 1 - (cfg.shift + cfg.gap) >= 2
    # A day of offers is enough for one look.
    assert cfg.rows // cfg.days >= spec.canary.min_observations
