"""Built-in controllers on the real control plane: Deployments, Jobs run by the job runner, garbage collection."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from clickcast.devcluster.jobrunner import run_job
from tests.k8s.conftest import GROUP, PLURAL, VERSION, Kube, wait_for
from tests.manifests import MINIMAL

pytestmark = pytest.mark.k8s


def deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    web = {"name": "web", "image": "registry.k8s.io/pause:3.10"}  # KWOK ignores it; kind can pull it
    pod = {"metadata": {"labels": labels}, "spec": {"containers": [web]}}
    spec = {"replicas": replicas, "selector": {"matchLabels": labels}, "template": pod}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def job(name: str, pod_spec: dict[str, Any], backoff_limit: int = 0) -> dict[str, Any]:
    spec = {"backoffLimit": backoff_limit, "template": {"spec": {"restartPolicy": "Never", **pod_spec}}}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec}


def python(code: str, **extra: Any) -> dict[str, Any]:
    return {"name": "main", "image": "ignored.invalid/train:1", "command": [sys.executable, "-c", code], **extra}


def test_deployment_reaches_ready_replicas(kube: Kube, namespace: str) -> None:
    kube.create(deployment("web", 3), namespace)

    def ready() -> bool:
        status = kube.apps.read_namespaced_deployment_status("web", namespace).status
        return status.ready_replicas == 3 and status.available_replicas == 3

    wait_for("3 ready replicas", ready, timeout=60)
    pods = kube.core.list_namespaced_pod(namespace, label_selector="app=web").items
    assert len(pods) == 3
    assert all(p.status.pod_ip and p.spec.node_name for p in pods)


@pytest.mark.parametrize("exit_code", [0, 3])
def test_job_completes_with_the_subprocess_exit_code(kube: Kube, namespace: str, exit_code: int) -> None:
    code = f"import sys; print('training'); sys.exit({exit_code})"
    kube.create(job("train", {"containers": [python(code)]}), namespace)

    run = run_job(kube.api, namespace, "train", timeout=60)

    assert run.succeeded is (exit_code == 0)
    assert [p.exit_code for p in run.pods] == [exit_code]
    assert run.pods[0].output == "training\n"
    status = kube.batch.read_namespaced_job_status("train", namespace).status
    conditions = {c.type for c in status.conditions if c.status == "True"}
    assert ("Complete" if exit_code == 0 else "Failed") in conditions
    assert (status.succeeded or 0, status.failed or 0) == ((1, 0) if exit_code == 0 else (0, 1))
    pod = kube.core.read_namespaced_pod(run.pods[0].pod, namespace)
    assert pod.status.container_statuses[0].state.terminated.exit_code == exit_code


def test_job_sees_its_configmap_volume_env_and_downward_fields(kube: Kube, namespace: str, tmp_path: Path) -> None:
    config = {"features": ["price", "device"], "rounds": 7}
    data = {"train.yaml": yaml.safe_dump(config), "mode": "fast"}
    kube.core.create_namespaced_config_map(namespace, {"metadata": {"name": "train-config"}, "data": data})
    out = tmp_path / "result.txt"
    code = (
        "import os, sys, yaml\n"
        "cfg = yaml.safe_load(open(sys.argv[1]))\n"
        "seen = [cfg['rounds'], os.environ['MODE'], os.environ['POD_NS'], sys.argv[2]]\n"
        "open(os.environ['OUT'], 'w').write(' '.join(map(str, seen)))\n"
    )
    container = python(
        code,
        args=["/etc/clickcast/train.yaml", "$(MODE)-$(POD_NS)"],
        env=[
            {"name": "OUT", "value": str(out)},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "train-config", "key": "mode"}}},
            {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ],
        volumeMounts=[{"name": "config", "mountPath": "/etc/clickcast", "readOnly": True}],
    )
    pod_spec = {"containers": [container], "volumes": [{"name": "config", "configMap": {"name": "train-config"}}]}
    kube.create(job("train", pod_spec), namespace)

    run = run_job(kube.api, namespace, "train", timeout=60)

    assert run.succeeded, run.pods[0].output
    assert out.read_text() == f"7 fast {namespace} fast-{namespace}"


def test_failed_pod_is_retried_by_the_job_controller(kube: Kube, namespace: str, tmp_path: Path) -> None:
    marker = tmp_path / "attempted"
    # Fails the first time, succeeds the second: the Job controller must create a second pod.
    code = f"import pathlib, sys; p = pathlib.Path({str(marker)!r}); first = not p.exists(); p.touch(); sys.exit(first)"
    kube.create(job("flaky", {"containers": [python(code)]}, backoff_limit=2), namespace)

    run = run_job(kube.api, namespace, "flaky", timeout=90)

    assert run.succeeded
    assert [p.exit_code for p in run.pods] == [1, 0]
    assert len({p.pod for p in run.pods}) == 2


def test_owner_reference_garbage_collection(kube: Kube, namespace: str) -> None:
    owner = kube.create_clickmodel(MINIMAL, namespace)
    ref = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ClickModel",
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    child = {"metadata": {"name": "child", "ownerReferences": [ref]}, "data": {"k": "v"}}
    kube.core.create_namespaced_config_map(namespace, child)
    kube.core.create_namespaced_config_map(namespace, {"metadata": {"name": "bystander"}})

    kube.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, owner["metadata"]["name"])

    def child_gone() -> bool:
        try:
            kube.core.read_namespaced_config_map("child", namespace)
        except ApiException as exc:
            return exc.status == 404
        return False

    # Up to ~60 s right after the CRD is installed: kube-controller-manager re-reads discovery every 30 s
    # and the garbage collector only then starts tracking ClickModels.
    wait_for("the garbage collector to delete the child", child_gone, timeout=120)
    assert kube.core.read_namespaced_config_map("bystander", namespace).metadata.name == "bystander"
