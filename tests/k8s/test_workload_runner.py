"""The workload runner of `clickcast dev cluster up`: pods really run, on their own loopback addresses.

The cluster comes from `workload_cluster` (the CLI's `up`, torn down with `down`): KWOK leaves pod status
to the runner, so every Running, Ready, podIP and restartCount below comes from a local process.
"""

from __future__ import annotations

import secrets
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.k8s.conftest import Kube, wait_for

pytestmark = pytest.mark.k8s

# Binds the wildcard, as a container would (http.server's default is dual-stack "::"): each pod on its own address.
SERVER = f"echo $(POD_NAME) > index.html && exec {sys.executable} -m http.server 8765"
DOWNWARD = [{"name": n, "valueFrom": {"fieldRef": {"fieldPath": p}}} for n, p in
            (("POD_IP", "status.podIP"), ("POD_NAME", "metadata.name"))]  # fmt: skip


@pytest.fixture
def ns(workload_cluster: Kube) -> Iterator[str]:
    name = f"w-{secrets.token_hex(4)}"
    workload_cluster.core.create_namespace({"metadata": {"name": name}})
    wait_for("the default ServiceAccount", lambda: workload_cluster.core.list_namespaced_service_account(name).items)
    yield name
    workload_cluster.core.delete_namespace(name)


def _deployment(name: str, replicas: int, probe_path: str, command: str = SERVER) -> dict[str, Any]:
    container = {
        "name": "web", "image": "python:3.11", "command": ["sh", "-c", command], "env": DOWNWARD,
        "ports": [{"name": "http", "containerPort": 8765}],
        "readinessProbe": {"httpGet": {"path": probe_path, "port": "http"}, "periodSeconds": 1},
    }  # fmt: skip
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [container], "terminationGracePeriodSeconds": 5}}},
    }  # fmt: skip


SERVICE_CLIENT = """
import json, ssl, sys, urllib.request
ns, sa = sys.argv[1], "/var/run/secrets/kubernetes.io/serviceaccount"
names = set()
for url in (f"http://web.{ns}.svc/index.html", f"http://web.{ns}.svc.cluster.local:80/", "http://web/index.html"):
    for _ in range(12):
        names.add(urllib.request.urlopen(url, timeout=5).read().decode().strip())
print("answered by", sorted(names))
request = urllib.request.Request("https://kubernetes.default.svc/version",
                                 headers={"Authorization": "Bearer " + open(f"{sa}/token").read()})
context = ssl.create_default_context(cafile=f"{sa}/ca.crt")
print("API server", json.load(urllib.request.urlopen(request, context=context, timeout=10))["gitVersion"])
"""


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            return int(answer.status), answer.read().decode().strip()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def _refused(ip: str, port: int) -> bool:
    try:
        socket.create_connection((ip, port), timeout=1).close()
    except OSError:
        return True
    return False


def _finished(kube: Kube, ns: str, pod: str) -> str | None:
    phase: str = kube.core.read_namespaced_pod(pod, ns).status.phase
    return phase if phase in ("Succeeded", "Failed") else None


def _pods(kube: Kube, ns: str, app: str) -> list[Any]:
    return list(kube.core.list_namespaced_pod(ns, label_selector=f"app={app}").items)


def test_a_deployment_of_two_servers_is_available_each_pod_on_its_own_address(workload_cluster: Kube, ns: str) -> None:
    kube = workload_cluster
    kube.create(_deployment("web", 2, "/"), ns)
    kube.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                 "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": "http"}]}}, ns)  # fmt: skip

    def available() -> bool:
        status = kube.apps.read_namespaced_deployment_status("web", ns).status
        conditions = {c.type: c.status for c in status.conditions or []}
        return status.ready_replicas == 2 and conditions.get("Available") == "True"

    wait_for("the Deployment to be Available with 2 ready replicas", available, timeout=60)
    pods = _pods(kube, ns, "web")
    ips = {p.metadata.name: p.status.pod_ip for p in pods}
    assert len(set(ips.values())) == 2 and all(ip.startswith("127.") for ip in ips.values()), ips
    assert not any(ip.startswith("127.0.") for ip in ips.values())  # not the host's own 127.0.0.1
    for name, ip in ips.items():
        assert _get(f"http://{ip}:8765/index.html") == (200, name)  # each address answers as its own pod
    assert _refused("127.0.0.1", 8765)  # the wildcard bind took the pod's address, not the host's
    for pod in pods:
        ready = {c.type: c.status for c in pod.status.conditions}
        assert ready["Ready"] == ready["ContainersReady"] == "True" and pod.status.container_statuses[0].ready

    # A pod reaches the Service by its names, on the Service port (80 -> "http" 8765), and both pods answer;
    # and the API server as kubernetes.default.svc, with its ServiceAccount's CA and token.
    client = {"name": "client", "image": "python:3.11", "command": [sys.executable, "-c", SERVICE_CLIENT, ns]}
    kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
                 "spec": {"restartPolicy": "Never", "containers": [client]}}, ns)  # fmt: skip
    phase = wait_for("the client to finish", lambda: _finished(kube, ns, "client"), timeout=60)
    log = _runner_log(kube, ns, "client")
    assert phase == "Succeeded", log
    assert f"answered by {sorted(ips)}" in log and "API server v1." in log, log

    # The EndpointSlice controller sees the two ready pods, but the API server refuses loopback addresses
    # in an EndpointSlice: Services have no endpoints there (the runner's own table stands in for them).
    def refused() -> bool:
        events = kube.core.list_namespaced_event(ns, field_selector="involvedObject.name=web").items
        return any("loopback" in (e.message or "") for e in events if e.reason == "FailedToUpdateEndpointSlices")

    wait_for("the EndpointSlice controller to report the loopback addresses", refused, timeout=30)

    kube.apps.delete_namespaced_deployment("web", ns)
    wait_for("both servers to stop", lambda: all(_refused(ip, 8765) for ip in ips.values()), timeout=30)
    wait_for("the pods to go", lambda: not _pods(kube, ns, "web"), timeout=30)


def test_a_failing_readiness_probe_keeps_the_pod_unready_and_a_crash_is_restarted(
    workload_cluster: Kube, ns: str
) -> None:
    kube = workload_cluster
    kube.create(_deployment("unready", 1, "/ready.txt"), ns)  # the server answers 404 there
    kube.create(_deployment("crash", 1, "/", command="echo crashing; exit 3"), ns)

    def running(app: str) -> Any:
        pods = _pods(kube, ns, app)
        return pods[0] if pods and pods[0].status.phase == "Running" and pods[0].status.pod_ip else None

    pod = wait_for("the unready pod to run", lambda: running("unready"), timeout=30)
    ip = pod.status.pod_ip
    wait_for("its server to answer", lambda: not _refused(ip, 8765), timeout=15)
    assert _get(f"http://{ip}:8765/ready.txt")[0] == 404  # what the probe gets

    def restarted() -> Any:
        pods = _pods(kube, ns, "crash")
        statuses = (pods[0].status.container_statuses or []) if pods else []
        return statuses[0] if statuses and statuses[0].restart_count >= 1 else None

    crashed = wait_for("the crashing container to be restarted", restarted, timeout=40)
    assert crashed.last_state.terminated.exit_code == 3
    assert _pods(kube, ns, "crash")[0].status.phase == "Running"  # restartPolicy Always: never Failed

    pod = _pods(kube, ns, "unready")[0]  # many probe periods later
    assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "False"
    assert pod.status.container_statuses[0].ready is False
    assert kube.apps.read_namespaced_deployment_status("unready", ns).status.ready_replicas in (None, 0)


RBAC_CHECK = """
import json, subprocess, sys
from kubernetes import client, config
config.load_kube_config()
core = client.CoreV1Api()
core.list_namespaced_pod(sys.argv[1])
try:
    core.list_namespaced_secret(sys.argv[1])
    sys.exit("listed secrets: the pod is not confined to its Role")
except client.ApiException as exc:
    assert exc.status == 403, exc.status
review = client.AuthenticationV1Api().create_self_subject_review({"apiVersion": "authentication.k8s.io/v1",
                                                                  "kind": "SelfSubjectReview"})
print(review.status.user_info.username)
assert review.status.user_info.username == f"system:serviceaccount:{sys.argv[1]}:reader"
"""


def test_a_pod_acts_as_its_service_account_with_its_rbac(workload_cluster: Kube, ns: str) -> None:
    kube = workload_cluster
    kube.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader"}}, ns)
    kube.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "reader"},
                 "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]}, ns)  # fmt: skip
    kube.create({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "reader"},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
                 "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}]}, ns)  # fmt: skip
    container = {"name": "check", "image": "python:3.11", "command": [sys.executable, "-c", RBAC_CHECK, ns]}
    pod_spec = {"restartPolicy": "Never", "serviceAccountName": "reader", "containers": [container]}
    kube.create({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "rbac"},
                 "spec": {"backoffLimit": 0, "template": {"spec": pod_spec}}}, ns)  # fmt: skip

    def finished() -> str | None:
        conditions = kube.batch.read_namespaced_job_status("rbac", ns).status.conditions or []
        return next((c.type for c in conditions if c.status == "True" and c.type in ("Complete", "Failed")), None)

    outcome = wait_for("the Job to finish", finished, timeout=60)
    pod = kube.core.list_namespaced_pod(ns, label_selector="job-name=rbac").items[0]
    terminated = pod.status.container_statuses[0].state.terminated
    assert outcome == "Complete", (terminated.exit_code, _runner_log(kube, ns, pod.metadata.name))
    assert pod.status.phase == "Succeeded" and terminated.exit_code == 0


def _runner_log(kube: Kube, ns: str, pod: str) -> str:
    from clickcast.devcluster import workloads

    path = workloads.state_dir(str(kube.name)) / ns / f"{pod}.log"
    return path.read_text()[-3000:] if path.exists() else f"no log at {path}"
