"""The ClickModel CRD on a real API server: accepted, served, and validating like `clickcast validate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.k8s.conftest import GROUP, PLURAL, VERSION, Kube
from tests.manifests import INVALID, SAMPLES, Invalid, build

pytestmark = pytest.mark.k8s


def test_crd_is_established_with_short_name_and_status(kube: Kube) -> None:
    crd = client.ApiextensionsV1Api(kube.api).read_custom_resource_definition(f"{PLURAL}.{GROUP}")
    assert crd.spec.names.short_names == ["ckm"]
    served = {v.name: v for v in crd.spec.versions}
    assert served[VERSION].served and served[VERSION].storage
    assert served[VERSION].subresources.status is not None


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_samples_are_accepted_and_defaulted(kube: Kube, namespace: str, sample: Path) -> None:
    doc = yaml.safe_load(sample.read_text())
    created = kube.create_clickmodel(doc, namespace)
    got = kube.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, doc["metadata"]["name"])
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    # Structural-schema defaults are applied by the server, not only by clickcast validate.
    assert got["spec"]["canary"]["steps"], got["spec"]["canary"]


def _server_message(exc: ApiException) -> str:
    body = json.loads(exc.body)
    causes = body.get("details", {}).get("causes", [])
    causes = " ".join(f"{c.get('field', '')}: {c.get('message', '')}" for c in causes)
    return f"{body.get('message', '')} {causes}"


SERVER_SIDE = [c for c in INVALID if c.server_side]
OFFLINE_ONLY = [c for c in INVALID if not c.server_side]


@pytest.mark.parametrize("case", SERVER_SIDE, ids=lambda c: c.id)
def test_api_server_rejects_invalid_naming_the_field(kube: Kube, namespace: str, case: Invalid) -> None:
    doc = build(case)
    with pytest.raises(ApiException) as info:
        kube.create_clickmodel(doc, namespace)
    assert info.value.status in (400, 422), info.value.body
    message = _server_message(info.value)
    assert case.field in message, message


@pytest.mark.parametrize("case", OFFLINE_ONLY, ids=lambda c: c.id)
def test_offline_only_rules_are_really_not_checked_by_the_server(kube: Kube, namespace: str, case: Invalid) -> None:
    # If this starts failing, the server learned the rule: flip the case to server_side=True.
    kube.create_clickmodel(build(case), namespace)
