"""Ownership before every apply and delete (issue 19): the pure rule, what the executor does with it, what the
observer sees, and how a refusal is reported on the ClickModel."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from clickcast.api.roles import Role
from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus, ConditionStatus, ConditionType
from clickcast.core.conditions import condition
from clickcast.core.plan import Deploy, Retire, StartTraining, VersionPin
from clickcast.operator.config import OperatorConfig
from clickcast.operator.execute import KubeExecutor, owner_reference
from clickcast.operator.kube import Doc, KubeApi
from clickcast.operator.observe import KubeObserver
from clickcast.operator.ownership import Foreign, NotOwned, may_touch
from clickcast.operator.reconcile import Reconciler
from tests.manifests import MINIMAL
from tests.unit.operator.test_faults import KEY, FakeKube

pytestmark = pytest.mark.unit
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
UID = "u1"
PIN = VersionPin("v1", "s3://clickcast/models/offers/v1", "ab" * 32)
SPEC = ClickModelSpec.model_validate(MINIMAL["spec"])
MINE = {"apiVersion": "clickcast.io/v1alpha1", "kind": "ClickModel", "name": "offers", "uid": UID,
        "controller": True, "blockOwnerDeletion": True}  # fmt: skip


@pytest.mark.parametrize(
    ("refs", "allowed"),
    [
        pytest.param(None, False, id="none"),
        pytest.param([], False, id="empty"),
        pytest.param([MINE], True, id="mine"),
        pytest.param([{**MINE, "controller": False}], False, id="mine-not-controller"),
        pytest.param([{k: v for k, v in MINE.items() if k != "controller"}], False, id="mine-controller-unset"),
        pytest.param([{**MINE, "uid": "an-earlier-offers"}], False, id="same-name-other-uid"),
        pytest.param([{**MINE, "kind": "ReplicaSet", "uid": "rs"}], False, id="other-controller"),
        pytest.param([{**MINE, "uid": "x", "controller": False}, MINE], True, id="mine-among-others"),
        pytest.param([{**MINE, "uid": ""}], False, id="empty-uid"),
    ],
)
def test_only_a_controller_reference_to_this_clickmodel_allows_a_change(refs: Any, allowed: bool) -> None:
    assert may_touch(refs, UID) is allowed


def test_an_empty_uid_matches_nothing() -> None:
    assert may_touch([{**MINE, "uid": ""}], "") is False


def _object(kind: str, name: str, refs: list[dict[str, Any]] | None) -> Doc:
    api = {"Deployment": "apps/v1", "Service": "v1", "ConfigMap": "v1"}[kind]
    meta: Doc = {"name": name, "namespace": "ads", "uid": f"uid-{name}", "resourceVersion": "41"}
    if refs is not None:
        meta["ownerReferences"] = refs
    return {"apiVersion": api, "kind": kind, "metadata": meta}


class Cluster:
    """The KubeApi calls of the executor and observer on a dict of objects; every write is kept."""

    def __init__(self, *objects: Doc) -> None:
        self.objects = {(o["kind"], o["metadata"]["name"]): o for o in objects}
        self.applied: list[tuple[str, str, str | None]] = []
        self.deleted: list[tuple[str, str, Doc | None]] = []
        self.created: list[str] = []

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> Doc | None:
        return self.objects.get((kind, name))

    def apply(self, doc: Doc, resource_version: str | None = None) -> None:
        self.applied.append((doc["kind"], doc["metadata"]["name"], resource_version))

    def delete(self, api_version: str, kind: str, namespace: str, name: str, preconditions: Doc | None = None) -> bool:
        self.deleted.append((kind, name, preconditions))
        return True

    def create(self, doc: Doc) -> bool:
        if (doc["kind"], doc["metadata"]["name"]) in self.objects:
            return False
        self.created.append(doc["kind"])
        return True


OBJ: Doc = {"apiVersion": "clickcast.io/v1alpha1", "kind": "ClickModel",
            "metadata": {"name": "offers", "namespace": "ads", "uid": UID}}  # fmt: skip


def _execute(cluster: Cluster, *actions: Any, spec: ClickModelSpec = SPEC) -> KubeExecutor:
    executor = KubeExecutor(cast(KubeApi, cluster), OBJ, OperatorConfig(), gitops=cast(Any, object()))

    async def run() -> None:
        for action in actions:
            await executor.apply("offers", spec, action)

    asyncio.run(run())
    return executor


def test_the_owner_reference_the_executor_writes_is_one_it_may_touch() -> None:
    assert may_touch([owner_reference(OBJ)], UID)


def test_a_foreign_deployment_is_neither_applied_nor_its_service_created_and_the_refusal_is_raised() -> None:
    cluster = Cluster(_object("Deployment", "offers-stable", None))
    executor = _execute(cluster, Deploy(Role.STABLE, PIN))
    assert cluster.applied == []  # all or none: the Service would route to a stranger's pods
    [refusal] = executor.refused
    assert (refusal.kind, refusal.name, refusal.controller, refusal.verb) == (
        "Deployment", "offers-stable", None, "apply")  # fmt: skip
    with pytest.raises(NotOwned, match="Deployment ads/offers-stable exists and has no controller"):
        executor.raise_refusals()


def test_objects_of_this_clickmodel_are_applied_with_the_version_read_as_precondition() -> None:
    cluster = Cluster(_object("Deployment", "offers-stable", [MINE]))
    executor = _execute(cluster, Deploy(Role.STABLE, PIN))
    assert cluster.applied == [("Service", "offers-stable", None), ("Deployment", "offers-stable", "41")]
    assert executor.refused == []
    executor.raise_refusals()  # nothing refused: nothing raised


def test_retire_deletes_only_what_is_owned_with_uid_and_version_as_preconditions() -> None:
    other = {**MINE, "kind": "Rollout", "name": "offers", "uid": "argo"}
    cluster = Cluster(_object("Deployment", "offers-canary", [other]), _object("Service", "offers-canary", [MINE]))
    executor = _execute(cluster, Retire(Role.CANARY), Retire(Role.STABLE))
    assert cluster.deleted == [("Service", "offers-canary", {"uid": "uid-offers-canary", "resourceVersion": "41"})]
    [refusal] = executor.refused
    assert refusal == Foreign("Deployment", "ads", "offers-canary", "Rollout/offers (uid argo)", "delete")
    assert "is controlled by Rollout/offers (uid argo), not this ClickModel: not deleted" in str(refusal)


def test_a_foreign_config_map_stops_the_spark_application_that_would_mount_it() -> None:
    cluster = Cluster(_object("ConfigMap", "offers-train-v2", None))
    spec = ClickModelSpec.model_validate({**MINIMAL["spec"], "training": {"backend": "sparkApplication"}})
    executor = _execute(cluster, StartTraining("offers-train-v2", "v2", None), spec=spec)
    assert cluster.created == []
    assert [f.kind for f in executor.refused] == ["ConfigMap"]


def test_the_observer_sees_a_foreign_deployment_as_absent() -> None:
    cluster = Cluster(_object("Deployment", "offers-stable", None), _object("Deployment", "offers-canary", [MINE]))
    observer = KubeObserver(cast(KubeApi, cluster), OBJ)
    assert set(asyncio.run(observer.rollouts())) == {Role.CANARY}


def test_a_refusal_is_reported_at_once_with_its_own_reason_and_one_event() -> None:
    kube = FakeKube()
    reconciler = Reconciler(kube, OperatorConfig(error_limit=3), clock=lambda: NOW)  # type: ignore[arg-type]
    refused = NotOwned([Foreign("Deployment", "ads", "offers-stable", None, "apply")])

    async def fail(streak: int) -> None:
        await reconciler.failed(KEY, refused, streak)

    asyncio.run(fail(1))  # below the error limit, still said
    c = condition(ClickModelStatus.model_validate(kube.obj["status"]).conditions, ConditionType.RECONCILE_ERROR)
    assert c is not None and (c.status, c.reason) == (ConditionStatus.TRUE, "ResourceNotOwned")
    assert "Deployment ads/offers-stable exists and has no controller" in c.message
    assert "owner reference" in c.message  # what to do about it
    asyncio.run(fail(2))
    assert [(t, r) for t, r, _ in kube.events] == [("Warning", "ResourceNotOwned")]  # once, not per retry
