"""kopf's own e2e pattern (KopfRunner against a real cluster) works with the session fixture."""

from __future__ import annotations

from pathlib import Path

import pytest
from kopf.testing import KopfRunner

from tests.k8s.conftest import GROUP, PLURAL, VERSION, Kube, wait_for
from tests.manifests import MINIMAL

pytestmark = pytest.mark.k8s
PROBE = Path(__file__).with_name("kopf_probe.py")


def test_kopf_runner_handles_a_clickmodel(kube: Kube, namespace: str) -> None:
    name = MINIMAL["metadata"]["name"]
    args = ["run", "--standalone", "--namespace", namespace, "--verbose", str(PROBE)]
    with KopfRunner(args, timeout=60) as runner:
        kube.create_clickmodel(MINIMAL, namespace)

        def annotated() -> bool:
            got = kube.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
            return got["metadata"].get("annotations", {}).get("clickcast.io/seen-by") == "kopf-probe"

        wait_for("kopf to annotate the ClickModel", annotated, timeout=45)

    assert runner.exception is None, runner.output
    assert runner.exit_code == 0, runner.output
    assert "Handler 'seen' succeeded" in runner.output
