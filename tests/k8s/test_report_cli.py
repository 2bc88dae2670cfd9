"""`clickcast report NAME -n NS --kubeconfig`: the ClickModel is read from a real API server."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from clickcast.cli.main import app
from tests.k8s.conftest import GROUP, PLURAL, VERSION, Kube
from tests.report.test_report import realistic_status

pytestmark = [pytest.mark.k8s, pytest.mark.report]


def test_report_reads_the_clickmodel_and_its_status_from_the_cluster(
    kube: Kube, namespace: str, tmp_path: Path
) -> None:
    model = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ClickModel",
        "metadata": {"name": "offers"},
        "spec": {
            "data": {"url": "s3://bucket/offers"},
            "store": {"url": "s3://bucket/models"},
            "canary": {"maxDevianceIncrease": 0.04},
        },
    }
    kube.create_clickmodel(model, namespace)
    status = realistic_status().to_wire()
    kube.custom.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, "offers", {"status": status})
    out = tmp_path / "offers.html"

    args = ["report", "offers", "-n", namespace, "--kubeconfig", str(kube.kubeconfig), "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "ClickModel offers" in html and "1 + δ = 1.040" in html, "spec and status came from the cluster"
    assert html.count('class="plotly-graph-div"') == 5

    missing = CliRunner().invoke(app, ["report", "nope", "-n", namespace, "--kubeconfig", str(kube.kubeconfig)])
    assert missing.exit_code == 2 and f"ClickModel {namespace}/nope not found" in missing.output
