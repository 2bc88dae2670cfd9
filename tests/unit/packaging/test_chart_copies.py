"""One source: the chart and the kustomize base carry copies of manifests/ (`make chart-crds` writes them)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.manifests import ROOT

pytestmark = pytest.mark.unit

CHART = ROOT / "charts" / "clickcast"
BASE = ROOT / "manifests" / "kustomize" / "base"
SOURCE_CRDS = sorted((ROOT / "manifests" / "crds").glob("*.yaml"))
COPIES = [
    *[(crd, CHART / "crds" / crd.name) for crd in SOURCE_CRDS],
    *[(crd, BASE / crd.name) for crd in SOURCE_CRDS],
    (ROOT / "manifests/rbac/operator.yaml", CHART / "files/rbac/operator.yaml"),
    (ROOT / "manifests/rbac/operator-peering.yaml", CHART / "files/rbac/operator-peering.yaml"),
    (ROOT / "manifests/monitoring/prometheus-rules.yaml", CHART / "files/monitoring/prometheus-rules.yaml"),
    (ROOT / "manifests/rbac/namespace.yaml", BASE / "namespace.yaml"),
    (ROOT / "manifests/rbac/operator.yaml", BASE / "operator.yaml"),
]
HINT = "run `make chart-crds` (manifests/ is the source; the chart and kustomize base carry copies)"


@pytest.mark.parametrize(("source", "copy"), COPIES, ids=[str(c.relative_to(ROOT)) for _, c in COPIES])
def test_copy_is_identical(source: Path, copy: Path) -> None:
    assert copy.is_file(), f"{copy.relative_to(ROOT)} is missing: {HINT}"
    what = f"{copy.relative_to(ROOT)} differs from {source.relative_to(ROOT)}"
    assert copy.read_text() == source.read_text(), f"{what}: {HINT}"


def test_chart_crds_are_the_manifests_and_kopfs_peering_crds_only() -> None:
    chart = {p.name for p in (CHART / "crds").glob("*.yaml")}
    assert chart == {p.name for p in SOURCE_CRDS} | {"kopf.dev_peerings.yaml"}, HINT
    peering = [d for d in yaml.safe_load_all((ROOT / "manifests/peering/kopf-peering.yaml").read_text()) if d]
    copied = [d for d in yaml.safe_load_all((CHART / "crds/kopf.dev_peerings.yaml").read_text()) if d]
    # The CRDs only: crds/ is applied before templates and never templated; the peering object is a template.
    assert copied == [d for d in peering if d["kind"] == "CustomResourceDefinition"], HINT
    assert len(copied) == 2
