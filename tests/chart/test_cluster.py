"""The real API server validates every object the chart and the kustomize base render (server-side dry run).

ServiceMonitor and PrometheusRule are left out of the dry run (the test cluster has no Prometheus Operator
CRDs); test_render.py checks their shape locally. The kopf peering CRDs from the chart's crds/ are applied
for real first (as `helm install` does), since the peering objects are of their kinds.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.chart.conftest import CHART, HA_VALUES, Helm
from tests.k8s.conftest import Kube, wait_for
from tests.manifests import ROOT

pytestmark = [pytest.mark.chart, pytest.mark.k8s]

NOT_ON_TEST_CLUSTER = {"ServiceMonitor", "PrometheusRule"}


@pytest.fixture(scope="module")
def peering_crds(kube: Kube) -> Iterator[None]:
    ext = client.ApiextensionsV1Api(kube.api)
    crds = [d for d in yaml.safe_load_all((CHART / "crds" / "kopf.dev_peerings.yaml").read_text()) if d]
    created = []
    for crd in crds:
        with contextlib.suppress(ApiException):  # 409: another test (or a previous run) installed them
            ext.create_custom_resource_definition(crd)
            created.append(crd["metadata"]["name"])
    names = [c["metadata"]["name"] for c in crds]
    wait_for("the peering CRDs", lambda: all(any(
        c.type == "Established" and c.status == "True"
        for c in ext.read_custom_resource_definition(n).status.conditions or []
    ) for n in names), timeout=30)  # fmt: skip
    yield
    if kube.name is None:  # a cluster we do not own: remove only what we added
        for name in created:
            ext.delete_custom_resource_definition(name)


def dry_run(kube: Kube, docs: list[dict[str, Any]]) -> str:
    """`kubectl apply --dry-run=server` of every document: the API server's validation, admission included."""
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(kube.kubeconfig), "apply", "--dry-run=server", "-f", "-"],
        input=yaml.safe_dump_all(docs), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"the API server refused:\n{done.stderr}\n{done.stdout}"
    return done.stdout


@pytest.mark.parametrize("values", ["default", "ha-namespaced-monitoring"])
def test_api_server_accepts_every_rendered_object(
    helm: Helm, kube: Kube, namespace: str, peering_crds: None, values: str
) -> None:
    args = ["--include-crds"]
    if values != "default":  # the watched namespace must exist for its Role: the test's own
        args += ["-f", str(HA_VALUES), "--set", f"watchNamespaces={{{namespace}}}"]
    docs = helm.template(*args, release=f"cc-{namespace}", namespace=namespace)
    checked = [d for d in docs if d["kind"] not in NOT_ON_TEST_CLUSTER]
    assert len(checked) < len(docs) if values != "default" else len(checked) == len(docs)
    out = dry_run(kube, checked)
    assert out.count("(server dry run)") == len(checked), out
    kinds = {d["kind"] for d in checked}
    expected = {"CustomResourceDefinition", "ServiceAccount", "Deployment", "Service", "Pod"}
    expected |= {"Role", "RoleBinding", "KopfPeering", "ConfigMap"} if values != "default" else {"ClusterRole"}
    assert expected <= kinds


def test_kustomize_base_builds_valid_objects(helm: Helm, kube: Kube, namespace: str) -> None:
    base = ROOT / "manifests" / "kustomize" / "base"
    built = subprocess.run(["kubectl", "kustomize", str(base)], capture_output=True, text=True, timeout=60, check=False)
    assert built.returncode == 0, built.stderr
    docs = [d for d in yaml.safe_load_all(built.stdout) if d]
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(["CustomResourceDefinition", "Namespace", "ServiceAccount", "ClusterRole",
                            "ClusterRoleBinding", "Deployment", "Service", *["ValidatingAdmissionPolicy",
                            "ValidatingAdmissionPolicyBinding"] * 2])  # fmt: skip
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert deployment["metadata"]["namespace"] == "clickcast-system"
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "clickcast-operator"
    # The Deployment is the chart's, rendered with its defaults: no hand-kept second copy.
    shown = ["--show-only", "templates/deployment.yaml", "--show-only", "templates/service.yaml"]
    rendered = helm.run("template", "clickcast-operator", str(CHART), "--namespace", "clickcast-system", *shown).stdout
    committed = (base / "operator-deployment.yaml").read_text()
    assert committed.split("\n", 1)[1] == rendered, "run `make chart-crds`"
    policy = ["--show-only", "templates/admission-policy.yaml"]
    rendered = helm.run("template", "clickcast-operator", str(CHART), "--namespace", "clickcast-system", *policy).stdout
    assert (base / "admission-policy.yaml").read_text().split("\n", 1)[1] == rendered, "run `make chart-crds`"
    # The namespace is created by the same apply, so a server dry run cannot see it: check it alone, and
    # the namespaced objects in the test's namespace (as an overlay setting `namespace:` would).
    dry_run(kube, [d for d in docs if d["kind"] == "Namespace"])
    moved = [d for d in docs if d["kind"] != "Namespace"]
    for doc in moved:
        if "namespace" in doc["metadata"]:
            doc["metadata"]["namespace"] = namespace
        for subject in doc.get("subjects", []):
            subject["namespace"] = namespace
    dry_run(kube, moved)


def test_helm_install_runs_ha_peers_and_uninstalls_cleanly(
    helm: Helm, kube: Kube, namespace: str, peering_crds: None
) -> None:
    """A real `helm install --wait` (kwok plays the kubelet: pods become Ready, nothing runs) and uninstall."""
    release = f"clickcast-{namespace}"  # contains the chart name: objects are named after it
    kubeconfig = ["--kubeconfig", str(kube.kubeconfig), "--namespace", namespace]
    values = [
        "--set",
        "replicas=2",
        "--set",
        f"watchNamespaces={{{namespace}}}",
        "--set",
        "grafana.dashboard.enabled=true",
    ]
    helm.run("install", release, str(CHART), *kubeconfig, *values, "--wait", "--timeout", "120s")
    try:
        deployment = kube.apps.read_namespaced_deployment(release, namespace)
        assert deployment.status.ready_replicas == 2
        peering = kube.custom.get_namespaced_custom_object("kopf.dev", "v1", namespace, "kopfpeerings", "clickcast")
        assert peering["metadata"]["name"] == "clickcast"
        roles = {r.metadata.name for r in client.RbacAuthorizationV1Api(kube.api).list_namespaced_role(namespace).items}
        assert roles == {release, f"{release}-peering"}
        status = helm.run("status", release, *kubeconfig).stdout
        assert "STATUS: deployed" in status
    finally:
        helm.run("uninstall", release, *kubeconfig, "--wait", "--timeout", "60s")
    assert not client.RbacAuthorizationV1Api(kube.api).list_namespaced_role(namespace).items
