"""Split canaries by Gateway API HTTPRoute weights, against the real HTTPRoute CRD in the local control plane.

The CRD is the one the sigs.k8s.io/gateway-api Go module ships (`make gateway-api` copies it into the cache),
so the API server validates the operator's HTTPRoutes exactly as a cluster with the Gateway API would.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus
from clickcast.core import Route
from clickcast.operator.config import OperatorConfig
from clickcast.operator.execute import KubeExecutor
from clickcast.operator.kube import KubeApi
from clickcast.operator.observe import KubeObserver
from tests.k8s.conftest import Kube, wait_for
from tests.k8s.operator_harness import clickmodel, manifest

pytestmark = pytest.mark.k8s
GATEWAY_API = "v1.6.3"


def _crd() -> dict[str, object]:
    cache = Path(os.environ.get("CLICKCAST_CACHE", Path.home() / ".cache" / "clickcast"))
    path = cache / "gateway-api" / GATEWAY_API / "gateway.networking.k8s.io_httproutes.yaml"
    assert path.exists(), f"{path} is missing: run `make gateway-api`"
    doc: dict[str, object] = yaml.safe_load(path.read_text())
    return doc


def _install(kube: Kube) -> None:
    ext = client.ApiextensionsV1Api(kube.api)
    doc = _crd()
    name = doc["metadata"]["name"]  # type: ignore[index]
    if not any(c.metadata.name == name for c in ext.list_custom_resource_definition().items):
        ext.create_custom_resource_definition(doc)

    def established() -> bool:
        conds = ext.read_custom_resource_definition(name).status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conds)

    wait_for("the HTTPRoute CRD", established, timeout=30)


def test_the_httproute_weighs_stable_against_the_canary(kube: Kube, namespace: str, tmp_path: Path) -> None:
    gateway = {"parentRefs": [{"name": "public", "namespace": "gateways", "sectionName": "https"}],
               "hostnames": ["clicks.example.com"]}  # fmt: skip
    doc = manifest("offers", "file:///data/clicks", tmp_path / "store", **{"canary.gateway": gateway})
    kube.create_clickmodel(doc, namespace)
    obj = clickmodel(kube, namespace, "offers")
    spec, status = ClickModelSpec.model_validate(obj["spec"]), ClickModelStatus()

    # Without the Gateway API the spec cannot run here: said, not crashed on.
    observed = asyncio.run(KubeObserver(KubeApi(kube.api), obj).observe("offers", spec, status))
    assert observed.blocker is not None and "Gateway API" in observed.blocker

    _install(kube)
    api = KubeApi(kube.api)  # fresh discovery: the API server serves HTTPRoutes now
    executor, observer = KubeExecutor(api, obj, OperatorConfig()), KubeObserver(api, obj)
    for weight in (25, 60, 0):
        asyncio.run(executor.apply("offers", spec, Route(weight)))
        observed = asyncio.run(observer.observe("offers", spec, status))
        assert (observed.route_weight, observed.blocker) == (weight, None)
    route = client.CustomObjectsApi(kube.api).get_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", namespace, "httproutes", "offers")  # fmt: skip
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public",
                                            "namespace": "gateways", "sectionName": "https"}]  # fmt: skip
    assert route["spec"]["hostnames"] == ["clicks.example.com"]
    backends = route["spec"]["rules"][0]["backendRefs"]
    assert [(b["name"], b["port"], b["weight"]) for b in backends] == [("offers-stable", 3000, 100),
                                                                        ("offers-canary", 3000, 0)]  # fmt: skip
    assert route["metadata"]["ownerReferences"][0]["uid"] == obj["metadata"]["uid"]  # deleted with the ClickModel
