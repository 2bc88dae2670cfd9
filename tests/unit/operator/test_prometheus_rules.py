"""The shipped alert rules only use metrics clickcast really exports (a renamed metric would silence an alert)."""

from __future__ import annotations

import re

import pytest
import yaml
from prometheus_client import REGISTRY

import clickcast.operator.metrics  # noqa: F401 - registers the operator's metrics
from tests.manifests import ROOT

pytestmark = pytest.mark.unit


def test_every_metric_an_alert_uses_is_exported() -> None:
    rules = yaml.safe_load((ROOT / "manifests" / "monitoring" / "prometheus-rules.yaml").read_text())
    exported = {s.name for family in REGISTRY.collect() for s in family.samples} | {
        family.name for family in REGISTRY.collect()
    }
    exprs = [r["expr"] for group in rules["spec"]["groups"] for r in group["rules"]]
    used = {m for e in exprs for m in re.findall(r"\b(clickcast_[a-z_]+)", e)}
    assert used, exprs
    # Counters export `<name>_total`; labelled series without a sample yet still register their family.
    missing = {m for m in used if m not in exported and m.removesuffix("_total") not in exported}
    assert not missing, f"alerts on metrics clickcast does not export: {sorted(missing)}"
    for group in rules["spec"]["groups"]:
        for rule in group["rules"]:
            assert rule["alert"] and rule["labels"]["severity"] and rule["annotations"]["summary"]
