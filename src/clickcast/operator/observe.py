"""What the operator sees of one ClickModel: its runs, its published version and its Deployments.

Only objects this ClickModel owns (operator/ownership.py) count: one of the same name that is someone else's is
seen as absent, so its state is never taken for the model's (a foreign `offers-stable` is not "stable serving",
a foreign Job of a run's name is not that run's outcome); acting on it is refused by the executor.
"""

from __future__ import annotations

import asyncio

from clickcast.api.roles import SERVED_ROLES, Role
from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus
from clickcast.api.traffic import Traffic
from clickcast.core.observed import Observed, Rollout, RunObservation
from clickcast.operator.backends import JOB, TrainingBackend, backend
from clickcast.operator.kube import Doc, KubeApi, MissingResource
from clickcast.operator.ownership import may_touch
from clickcast.runtime import observation
from clickcast.runtime.gitops import GitOpsBridge
from clickcast.runtime.observation import Unrunnable
from clickcast.serving.manifests import (
    HTTP_ROUTE_API,
    MANIFEST_ANNOTATION,
    TRAFFIC_ANNOTATION,
    object_name,
    route_weight,
)
from clickcast.serving.manifests import selector as serving_selector


def rollout(deployment: Doc | None) -> Rollout | None:
    if deployment is None or deployment["metadata"].get("deletionTimestamp"):
        return None
    meta, status = deployment["metadata"], deployment.get("status") or {}
    desired = int((deployment.get("spec") or {}).get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    return Rollout(
        version=(meta.get("labels") or {}).get("clickcast.io/version"),
        manifest_sha256=(meta.get("annotations") or {}).get(MANIFEST_ANNOTATION),
        desired=desired,
        ready=int(status.get("readyReplicas") or 0),
        # Old pods still around (a rollout in progress) mean not every replica serves the new version yet.
        updated=updated if total <= updated else min(updated, desired - 1),
        current=int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0),
        traffic=_traffic((meta.get("annotations") or {}).get(TRAFFIC_ANNOTATION)),
    )


def _traffic(annotation: str | None) -> Traffic | None:
    """The Deployment's recorded Traffic; None (not recorded, e.g. an older operator's) makes the core re-apply it."""
    try:
        return Traffic(annotation) if annotation is not None else None
    except ValueError:
        return None


class KubeObserver:
    """Observer (clickcast.core.ports) over the Kubernetes API and the model store: the `Sources` of
    clickcast.runtime.observation, which assembles what they read."""

    def __init__(self, kube: KubeApi, obj: Doc, gitops: GitOpsBridge | None = None) -> None:
        self.kube = kube
        self.obj = obj
        self.gitops = gitops
        self.namespace: str = obj["metadata"]["namespace"]
        self.name: str = obj["metadata"]["name"]

    async def observe(self, name: str, spec: ClickModelSpec, status: ClickModelStatus) -> Observed:
        generation = int(self.obj["metadata"].get("generation") or 0)
        return await observation.observe(name, spec, status, self, gitops=self.gitops, namespace=self.namespace,
                                         generation=generation)  # fmt: skip

    async def _get(self, api_version: str, kind: str, name: str) -> Doc | None:
        """The object `name` if it is this ClickModel's; None when absent or someone else's."""
        found = await asyncio.to_thread(self.kube.get, api_version, kind, self.namespace, name)
        if found is None or not may_touch(found["metadata"].get("ownerReferences"), self.obj["metadata"]["uid"]):
            return None
        return found

    async def run(self, name: str, on: TrainingBackend = JOB) -> RunObservation:
        """The run `name` made by backend `on` (scoring and evaluation runs are Jobs)."""
        doc = await self._get(on.api_version, on.kind, name)
        pods: list[Doc] = []
        if doc is not None and (selector := on.pod_selector(doc)) is not None:
            pods = await asyncio.to_thread(self.kube.list, "v1", "Pod", self.namespace, selector)
        return on.state(doc, pods)

    async def training_run(self, name: str, spec: ClickModelSpec) -> RunObservation:
        try:
            return await self.run(name, backend(spec.training.backend))
        except MissingResource as exc:
            raise Unrunnable(f"spec.training.backend: {exc} (install the Spark Operator, or use backend: job)") from exc

    async def rollouts(self) -> dict[Role, Rollout]:
        found = {role: rollout(await self._get("apps/v1", "Deployment", object_name(self.name, role)))
                 for role in SERVED_ROLES}  # fmt: skip
        return {role: r for role, r in found.items() if r is not None}

    async def canary_metrics(self, spec: ClickModelSpec) -> list[str]:
        selector = ",".join(f"{k}={v}" for k, v in serving_selector(self.name, Role.CANARY).items())
        pods = await asyncio.to_thread(self.kube.list, "v1", "Pod", self.namespace, selector)
        ips = [p["status"].get("podIP") for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        return [f"http://{ip}:{spec.serving.port}/metrics" for ip in ips if ip]

    async def route_weight(self, spec: ClickModelSpec) -> int | None:
        try:
            return route_weight(await self._get(HTTP_ROUTE_API, "HTTPRoute", self.name), self.name)
        except MissingResource as exc:
            raise Unrunnable("spec.canary.gateway: the Gateway API CRDs (HTTPRoute) are not installed") from exc
