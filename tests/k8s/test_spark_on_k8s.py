"""Training with a `k8s://` master on the real control plane: the driver in a Job's pod, executors as bare pods.

The pod runner plays the kubelet: every pod runs as local processes (the
training Job's spark-submit, and the executor pods Spark creates, started by
the jobs image's entrypoint with the argument `executor`). The driver talks to
the API server as the training ServiceAccount, with only the submit module's
Role rules.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from clickcast.api.spec import ClickModelSpec
from clickcast.devcluster.podrunner import PodRunner
from clickcast.jobs import submit
from clickcast.jobs.generate import GeneratorConfig, generate
from clickcast.store import ModelStore, load_version
from tests.k8s.conftest import Kube, wait_for
from tests.manifests import ROOT

pytestmark = pytest.mark.k8s
IMAGE = "clickcast-jobs:test"
EXECUTORS = 2
SA = "trainer"
EXECUTOR_SELECTOR = "spark-role=executor"


def _rbac(kube: Kube, namespace: str) -> None:
    kube.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": SA}}, namespace)
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": SA},
            "rules": submit.EXECUTOR_RBAC_RULES}  # fmt: skip
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": SA},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SA},
        "subjects": [{"kind": "ServiceAccount", "name": SA, "namespace": namespace}],
    }  # fmt: skip
    kube.create(role, namespace)
    kube.create(binding, namespace)


def _training_job(spec: ClickModelSpec, name: str) -> dict[str, Any]:
    argv = submit.build_spark_submit_argv(spec, name, "/etc/clickcast/model.yaml", "/var/run/clickcast/result.json")
    container = {
        "name": "train", "image": IMAGE, "command": argv, "env": submit.DRIVER_ENV,
        "volumeMounts": [{"name": "model", "mountPath": "/etc/clickcast"},
                         {"name": "out", "mountPath": "/var/run/clickcast"}],
    }  # fmt: skip
    pod = {
        "restartPolicy": "Never", "serviceAccountName": SA, "containers": [container],
        "volumes": [{"name": "model", "configMap": {"name": f"{name}-model"}}, {"name": "out", "emptyDir": {}}],
    }  # fmt: skip
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": f"{name}-train"},
            "spec": {"backoffLimit": 0, "template": {"spec": pod}}}  # fmt: skip


def test_k8s_master_trains_with_two_executor_pods_and_publishes(kube: Kube, namespace: str, tmp_path: Path) -> None:
    data, store = tmp_path / "clicks", tmp_path / "store"
    generate(GeneratorConfig(rows=6000, days=30, seed=5, merchants=150, categories=30), f"file://{data}")
    wire = {
        "data": {"url": f"file://{data}", "window": {"trainDays": 30, "testDays": 5}},
        "store": {"url": f"file://{store}"},
        "features": {"minCategoryCount": 2},
        "algorithm": {"xgboost": {"numRounds": 10}},
        "training": {
            "master": f"k8s://{kube.api.configuration.host}",  # the real API server, as the pod would see it
            "image": IMAGE,
            "driver": {"cpu": "1", "memory": "1Gi"},
            "executors": {"instances": EXECUTORS, "cpu": "1", "memory": "512Mi"},
            "sparkConf": {"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false"},
        },
    }
    spec = ClickModelSpec.model_validate(wire)
    manifest = {
        "apiVersion": "clickcast.io/v1alpha1",
        "kind": "ClickModel",
        "metadata": {"name": "offers"},
        "spec": wire,
    }
    kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "offers-model"},
                 "data": {"model.yaml": yaml.safe_dump(manifest)}}, namespace)  # fmt: skip
    _rbac(kube, namespace)

    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{venv_bin}:{os.environ['PATH']}", "PYSPARK_PYTHON": sys.executable,
           "PYSPARK_DRIVER_PYTHON": sys.executable}  # fmt: skip
    runner = PodRunner(
        kube.api, namespace, tmp_path / "pods",
        entrypoints={IMAGE: ["bash", str(ROOT / "jobs" / "entrypoint.sh")]},
        image_paths={submit.JOBS_DIR: ROOT / "jobs"},
        base_env=env,
    )  # fmt: skip
    with runner:
        kube.create(_training_job(spec, "offers"), namespace)

        def finished() -> str | None:
            status = kube.batch.read_namespaced_job_status("offers-train", namespace).status
            done = {c.type for c in status.conditions or [] if c.status == "True"} & {"Complete", "Failed"}
            return next(iter(done), None)

        outcome = wait_for("the training Job to finish", finished, timeout=600, poll=1)
        driver = next(n for n, p in runner.started.items() if "job-name" in p["metadata"].get("labels", {}))
        assert outcome == "Complete", runner.log(driver)[-6000:] + "\n".join(runner.errors)

        # Executors were bare pods owned by the driver pod, started with `executor`, and did the work.
        executors = {n: p for n, p in runner.started.items() if p["metadata"]["labels"].get("spark-role") == "executor"}
        assert len(executors) == EXECUTORS, sorted(runner.started)
        for name, pod in executors.items():
            owners = pod["metadata"]["ownerReferences"]
            assert [(o["kind"], o["name"]) for o in owners] == [("Pod", driver)]
            assert pod["spec"]["containers"][0]["args"] == ["executor"]
            assert pod["metadata"]["labels"][submit.MODEL_LABEL] == "offers"
            assert "Successfully registered with driver" in runner.log(name), runner.log(name)[-3000:]

        # The executor pods are gone once the driver stopped, and their processes with them.
        wait_for(
            "the executor pods to be deleted",
            lambda: not kube.core.list_namespaced_pod(namespace, label_selector=EXECUTOR_SELECTOR).items,
            timeout=120,
        )
        wait_for("the executor processes to end", lambda: not set(runner.running) & set(executors), timeout=60)

    versions = ModelStore(f"file://{store}").list_versions("offers")
    assert len(versions) == 1
    result = json.loads((tmp_path / "pods" / "pods" / driver / "volumes" / "out" / "result.json").read_text())
    assert result["version"] == versions[0]
    assert load_version(result["uri"], result["checksum"]).manifest.version == versions[0]
