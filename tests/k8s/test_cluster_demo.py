"""`make cluster-demo` (hack/cluster-demo.sh) on the session's workload cluster: the product, pods really run.

The chart's operator pod (as the chart's ServiceAccount), the Jobs' Spark and the serving pods are local
processes started by the workload runner, and `helm test` runs the chart's test pod. The demo's first version
trains and serves; the next one runs as a shadow canary (the stable pods mirror each request to the canary's
Service, by name) and the operator promotes it on real clicks. A stable pod then predicts at its own address.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from clickcast.devcluster import workloads
from tests.k8s.conftest import Kube
from tests.manifests import ROOT

pytestmark = [pytest.mark.k8s, pytest.mark.e2e]


@pytest.mark.timeout(1800)  # a story of several Spark runs: on a busy 2-core machine, well past the default
def test_cluster_demo_reaches_serving_and_the_stable_pod_predicts(workload_cluster: Kube, tmp_path: Path) -> None:
    env = os.environ | {"CLICKCAST_CLUSTER": str(workload_cluster.name), "DEMO_DIR": str(tmp_path)}
    done = subprocess.run(["bash", str(ROOT / "hack" / "cluster-demo.sh")], env=env, capture_output=True, text=True,
                          timeout=900, check=False)  # fmt: skip
    log = (tmp_path / "cluster-demo.log").read_text() if (tmp_path / "cluster-demo.log").exists() else ""
    assert done.returncode == 0, f"{done.stderr[-3000:]}\n--- log\n{log[-4000:]}"

    # `helm test` ran its pod: it reached the API server and the operator's Service by their names.
    assert re.search(r"TEST SUITE:\s+\S+-test\s.*?Phase:\s+Succeeded", log, re.S), log[-3000:]
    phases = re.findall(r"phase: (\w+)", done.stdout)
    assert phases[0] in ("Pending", "Training") and phases[-1] == "Serving", phases
    # The first release, then the next version's: trained (and validated in the same decision), a shadow
    # canary, promoted.
    assert phases.count("Training") == 2 and phases.count("Serving") == 2 and "Canary" in phases, phases
    assert re.search(r"look \d+: deviance ratio [\d.]+ \[[\d.]+, [\d.]+\] on [\d,]+ offer-days: Pass", done.stdout)
    promoted = re.search(r"(\S+): Promoted \(CanaryPassed\); (\S+) serves", done.stdout)
    assert promoted is not None and promoted[1] == promoted[2], done.stdout[-3000:]
    curl = next(line for line in done.stdout.splitlines() if line.startswith("curl "))
    ip = re.search(r"http://(127\.[\d.]+):3000/predict", curl)
    assert ip is not None, curl
    answer = json.loads(done.stdout.strip().splitlines()[done.stdout.strip().splitlines().index(curl) + 1])
    assert answer["predictedClicks"] > 0 and answer["role"] == "stable"

    logs = workloads.state_dir(str(workload_cluster.name)).joinpath("clickcast-system").glob("*.log")
    operator = next(p for p in logs if not p.name.endswith("-test.log"))  # not `helm test`'s pod
    text = operator.read_text()
    assert "forbidden" not in text.lower(), text[-3000:]
    assert "Serving" in text  # the operator pod itself decided it, as the chart's ServiceAccount
