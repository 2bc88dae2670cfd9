"""With RBAC on, the operator's ServiceAccount can do its job and nothing it has no business doing."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.k8s.conftest import GROUP, PLURAL, VERSION, Kube
from tests.manifests import MINIMAL, ROOT

pytestmark = pytest.mark.k8s

RBAC = [ROOT / "manifests" / "rbac" / "namespace.yaml", ROOT / "manifests" / "rbac" / "operator.yaml"]
SA_NAMESPACE, SA_NAME = "clickcast-system", "clickcast-operator"


@pytest.fixture(scope="module")
def operator(kube: Kube) -> Iterator[client.ApiClient]:
    """An API client authenticated as the operator's ServiceAccount with a real (TokenRequest) token."""
    docs = [doc for path in RBAC for doc in yaml.safe_load_all(path.read_text()) if doc]
    for doc in docs:
        kube.create(doc)
    token = kube.core.create_namespaced_service_account_token(
        SA_NAME, SA_NAMESPACE, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    admin = kube.api.configuration
    conf = client.Configuration()
    conf.host, conf.ssl_ca_cert, conf.verify_ssl = admin.host, admin.ssl_ca_cert, admin.verify_ssl
    conf.api_key = {"authorization": f"Bearer {token}"}
    with client.ApiClient(conf) as api:
        yield api
    rbac = client.RbacAuthorizationV1Api(kube.api)
    rbac.delete_cluster_role_binding(SA_NAME)
    rbac.delete_cluster_role(SA_NAME)
    kube.core.delete_namespace(SA_NAMESPACE)


def allowed(call: Callable[[], Any]) -> Any:
    return call()


def forbidden(call: Callable[[], Any]) -> str:
    with pytest.raises(ApiException) as info:
        call()
    assert info.value.status == 403, info.value.body
    return str(info.value.body)


def test_operator_is_who_we_think(operator: client.ApiClient) -> None:
    review = client.AuthenticationV1Api(operator).create_self_subject_review({})
    assert review.status.user_info.username == f"system:serviceaccount:{SA_NAMESPACE}:{SA_NAME}"


def test_operator_can_do_its_job(kube: Kube, namespace: str, operator: client.ApiClient) -> None:
    custom, core = client.CustomObjectsApi(operator), client.CoreV1Api(operator)
    batch, apps = client.BatchV1Api(operator), client.AppsV1Api(operator)
    model = kube.create_clickmodel(MINIMAL, namespace)  # users create ClickModels, not the operator
    name = model["metadata"]["name"]

    # Watch ClickModels everywhere and report status; never change what users wrote (no finalizers either).
    listed = allowed(lambda: custom.list_cluster_custom_object(GROUP, VERSION, PLURAL))
    assert name in {m["metadata"]["name"] for m in listed["items"]}
    forbidden(lambda: custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name, {"metadata": {"annotations": {"clickcast.io/seen": "yes"}}}
    ))  # fmt: skip
    patched = allowed(lambda: custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, name, {"status": {"phase": "Training"}}
    ))  # fmt: skip
    assert patched["status"]["phase"] == "Training"

    # Training Jobs, serving Deployments and Services, rendered ConfigMaps, events.
    pod = {"restartPolicy": "Never", "containers": [{"name": "train", "image": "x.invalid/train", "command": ["true"]}]}
    allowed(
        lambda: batch.create_namespaced_job(
            namespace, {"metadata": {"name": "train"}, "spec": {"template": {"spec": pod}}}
        )
    )
    # Deleted only when a training run outlives its deadline (StopRun); otherwise its ttl or the GC does it.
    allowed(lambda: batch.delete_namespaced_job("train", namespace, propagation_policy="Background"))
    labels = {"app": "serve"}
    web = {"containers": [{"name": "serve", "image": "x.invalid/serve"}]}
    dep = {
        "replicas": 1,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": web},
    }
    allowed(lambda: apps.create_namespaced_deployment(namespace, {"metadata": {"name": "serve"}, "spec": dep}))
    allowed(lambda: apps.patch_namespaced_deployment("serve", namespace, {"spec": {"replicas": 2}}))
    svc = {"metadata": {"name": "serve"}, "spec": {"selector": labels, "ports": [{"port": 3000}]}}
    allowed(lambda: core.create_namespaced_service(namespace, svc))
    allowed(lambda: core.create_namespaced_config_map(namespace, {"metadata": {"name": "cfg"}, "data": {"a": "b"}}))
    event = {
        "metadata": {"generateName": "clickcast-"},
        "involvedObject": {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ClickModel",
            "name": name,
            "namespace": namespace,
        },
        "reason": "Training",
        "message": "started",
        "type": "Normal",
    }
    allowed(lambda: core.create_namespaced_event(namespace, event))


def test_operator_reads_only_the_gitops_secret(kube: Kube, namespace: str, operator: client.ApiClient) -> None:
    for secret in ("clickcast-gitops", "database-password"):
        kube.core.create_namespaced_secret(
            namespace, {"metadata": {"name": secret}, "stringData": {"password": "s3cret"}}
        )
    core = client.CoreV1Api(operator)

    assert allowed(lambda: core.read_namespaced_secret("clickcast-gitops", namespace)).data["password"]
    body = forbidden(lambda: core.read_namespaced_secret("database-password", namespace))
    assert "database-password" in body
    forbidden(lambda: core.list_namespaced_secret(namespace))
    forbidden(lambda: core.patch_namespaced_secret("clickcast-gitops", namespace, {"stringData": {"password": "x"}}))


def test_operator_cannot_do_what_it_does_not_need(kube: Kube, namespace: str, operator: client.ApiClient) -> None:
    custom, core = client.CustomObjectsApi(operator), client.CoreV1Api(operator)
    kube.create_clickmodel(MINIMAL, namespace)
    other = copy.deepcopy(MINIMAL)
    other["metadata"]["name"] = "by-operator"
    forbidden(lambda: custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, other))
    forbidden(
        lambda: custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, MINIMAL["metadata"]["name"])
    )
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x.invalid/c"}]}}
    forbidden(lambda: core.create_namespaced_pod(namespace, pod))
    forbidden(lambda: core.delete_namespace(namespace))
    forbidden(lambda: client.RbacAuthorizationV1Api(operator).list_cluster_role())
