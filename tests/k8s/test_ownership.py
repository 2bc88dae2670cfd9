"""Ownership before every apply and delete, against the real API server (issue 19): a ClickModel named `offers`
takes over no `offers-stable` it did not create, deletes none, and says why; it adopts one only once someone
gives it the ClickModel's owner reference."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clickcast.api.roles import Role
from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus, ModelVersionStatus, Phase, TrainingStatus
from clickcast.core.plan import Deploy, Retire, VersionPin
from clickcast.core.training import training_spec_hash
from clickcast.operator.config import OperatorConfig
from clickcast.operator.execute import KubeExecutor, owner_reference
from clickcast.operator.kube import Conflict, KubeApi
from clickcast.serving.manifests import selector
from tests.k8s.conftest import GROUP, PLURAL, VERSION, Kube, wait_for
from tests.k8s.operator_harness import clickmodel, deployment, events_once, manifest, running_operator

pytestmark = pytest.mark.k8s
PIN = VersionPin("v1", "file:///store/models/offers/v1", "ab" * 32)
HANDMADE = "registry.example.com/team/offers:handmade"


def _foreign_deployment(namespace: str) -> dict[str, Any]:
    """A team's own `offers-stable`, even with clickcast's labels: a name and labels are not ownership."""
    labels = selector("offers", Role.STABLE)
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "offers-stable", "namespace": namespace, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels}, "spec": {"containers": [{"name": "serving", "image": HANDMADE}]}}},
    }  # fmt: skip


def _serving(kube: Kube, namespace: str, spec: ClickModelSpec) -> None:
    """Status as an operator left it: v1 serves and nothing is due, so the next step is to deploy it."""
    obj = clickmodel(kube, namespace, "offers")
    stable = {"version": PIN.version, "uri": PIN.uri, "checksum": PIN.manifest_sha256}
    obj["status"] = ClickModelStatus(
        phase=Phase.SERVING, phase_since=datetime.now(UTC), stable=ModelVersionStatus.model_validate(stable),
        training=TrainingStatus(version=PIN.version, spec_hash=training_spec_hash(spec)),
    ).to_wire()  # fmt: skip
    kube.custom.replace_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, "offers", obj)


def _reconcile_error(kube: Kube, namespace: str) -> dict[str, Any] | None:
    conditions = (clickmodel(kube, namespace, "offers").get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "ReconcileError" and c["status"] == "True"), None)


def test_an_existing_deployment_the_clickmodel_does_not_own_is_neither_changed_nor_deleted(
    *, kube: Kube, namespace: str, tmp_path: Path, env: None
) -> None:
    kube.apps.create_namespaced_deployment(namespace, _foreign_deployment(namespace))
    before = deployment(kube, namespace, "offers-stable")
    kube.create_clickmodel(manifest("offers", "file:///data/clicks", tmp_path / "store"), namespace)
    spec = ClickModelSpec.model_validate(clickmodel(kube, namespace, "offers")["spec"])
    _serving(kube, namespace, spec)

    with running_operator(namespace):
        refused = wait_for("ReconcileError=True", lambda: _reconcile_error(kube, namespace), timeout=90)
        warned = events_once(kube, namespace, "offers", "ResourceNotOwned")
    assert refused["reason"] == "ResourceNotOwned"
    assert f"Deployment {namespace}/offers-stable exists and has no controller" in refused["message"]
    [(kind, _, message)] = [e for e in warned if e[1] == "ResourceNotOwned"]  # one Event, not one per retry
    assert kind == "Warning" and "offers-stable" in message

    after = deployment(kube, namespace, "offers-stable")
    assert after.metadata.generation == before.metadata.generation  # the spec was not written
    assert after.spec.template.spec.containers[0].image == HANDMADE
    assert after.metadata.owner_references is None
    assert "clickcast-operator" not in {f.manager for f in after.metadata.managed_fields}
    assert kube.core.list_namespaced_service(namespace).items == []  # all or none: no Service to its pods

    # Retiring it (a batch-mode switch, a leftover canary) is refused the same way: it is still there.
    obj = clickmodel(kube, namespace, "offers")
    api = KubeApi(kube.api)
    executor = KubeExecutor(api, obj, OperatorConfig())
    asyncio.run(executor.apply("offers", spec, Retire(Role.STABLE)))
    assert [(f.kind, f.name, f.verb) for f in executor.refused] == [("Deployment", "offers-stable", "delete")]
    assert deployment(kube, namespace, "offers-stable").metadata.uid == before.metadata.uid

    # Given the ClickModel's owner reference, it is adopted: the same action now changes it.
    kube.apps.patch_namespaced_deployment("offers-stable", namespace,
                                          {"metadata": {"ownerReferences": [owner_reference(obj)]}})  # fmt: skip
    adopting = KubeExecutor(api, obj, OperatorConfig())
    asyncio.run(adopting.apply("offers", spec, Deploy(Role.STABLE, PIN)))
    assert adopting.refused == []
    adopted = deployment(kube, namespace, "offers-stable")
    env_vars = {e.name: e.value for e in adopted.spec.template.spec.containers[0].env or []}
    assert env_vars["MODEL_URI"] == PIN.uri and adopted.spec.template.spec.containers[0].image != HANDMADE

    # The version read is the write's precondition: an object changed since (its owner, say) is not written.
    doc = api.get("apps/v1", "Deployment", namespace, "offers-stable")
    assert doc is not None
    stale = doc["metadata"]["resourceVersion"]
    kube.apps.patch_namespaced_deployment("offers-stable", namespace, {"metadata": {"labels": {"touched": "yes"}}})
    body = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "offers-stable", "namespace": namespace, "annotations": {"x": "y"}}}  # fmt: skip
    with pytest.raises(Conflict):
        api.apply(body, stale)
    with pytest.raises(Conflict):
        api.delete("apps/v1", "Deployment", namespace, "offers-stable", {"resourceVersion": stale})
    assert deployment(kube, namespace, "offers-stable") is not None
