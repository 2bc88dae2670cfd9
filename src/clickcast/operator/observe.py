"""What the operator sees of one ClickModel: its runs, its published version and its Deployments."""

from __future__ import annotations

import asyncio

from clickcast.analysis.evidence import EvaluationReport
from clickcast.api.roles import SERVED_ROLES, Role
from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus
from clickcast.api.traffic import Traffic
from clickcast.core.observed import Observed, Rollout, RunObservation, RunState, ServiceHealth, TrainedVersion
from clickcast.operator.backends import JOB, TrainingBackend, backend
from clickcast.operator.kube import Doc, KubeApi, MissingResource
from clickcast.runtime.gitops import GitOpsBridge
from clickcast.runtime.outcomes import (
    evaluation_report,
    evaluation_run_name,
    spec_blocker,
    trained_to_read,
    trained_version,
)
from clickcast.runtime.service_health import scrape
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
    """Observer (clickcast.core.ports) over the Kubernetes API and the model store."""

    def __init__(self, kube: KubeApi, obj: Doc, gitops: GitOpsBridge | None = None) -> None:
        self.kube = kube
        self.obj = obj
        self.gitops = gitops
        self.namespace: str = obj["metadata"]["namespace"]

    async def _get(self, api_version: str, kind: str, name: str) -> Doc | None:
        return await asyncio.to_thread(self.kube.get, api_version, kind, self.namespace, name)

    async def _run(self, name: str, backend: TrainingBackend = JOB) -> RunObservation:
        doc = await self._get(backend.api_version, backend.kind, name)
        pods: list[Doc] = []
        if doc is not None and (selector := backend.pod_selector(doc)) is not None:
            pods = await asyncio.to_thread(self.kube.list, "v1", "Pod", self.namespace, selector)
        return backend.state(doc, pods)

    async def observe(self, name: str, spec: ClickModelSpec, status: ClickModelStatus) -> Observed:
        blocker = spec_blocker(spec)
        training = scoring = None
        trained: TrainedVersion | None = None
        t = status.training
        try:
            if t is not None and t.job_name is not None:
                training = await self._run(t.job_name, backend(spec.training.backend))
            if status.scoring is not None:
                scoring = await self._run(status.scoring.job_name)
        except MissingResource as exc:
            blocker = blocker or f"spec.training.backend: {exc} (install the Spark Operator, or use backend: job)"
        if blocker is None and (version := trained_to_read(status, training)) is not None:
            trained = await asyncio.to_thread(trained_version, spec, name, version)
        rollouts: dict[Role, Rollout] = {}
        for role in SERVED_ROLES:
            found = rollout(await self._get("apps/v1", "Deployment", object_name(name, role)))
            if found is not None:
                rollouts[role] = found
        evaluation, evaluated = await self._evaluation(name, spec, status)
        health = None
        if status.canary is not None and evaluated is not None:  # a look is being taken: the guardrails' data
            health = await self._canary_health(name, spec)
        route: int | None = None
        if spec.canary.gateway is not None:
            try:
                route = route_weight(await self._get(HTTP_ROUTE_API, "HTTPRoute", name), name)
            except MissingResource:
                blocker = blocker or "spec.canary.gateway: the Gateway API CRDs (HTTPRoute) are not installed"
        git = await self.gitops.observe(self.namespace, name, spec, status) if self.gitops else None
        generation = int(self.obj["metadata"].get("generation") or 0)
        return Observed(generation=generation, training=training, trained=trained, scoring=scoring,
                        rollouts=rollouts, blocker=blocker, evaluation=evaluation, evaluated=evaluated,
                        git=git, route_weight=route, canary_health=health)  # fmt: skip

    async def _canary_health(self, name: str, spec: ClickModelSpec) -> ServiceHealth | None:
        selector = ",".join(f"{k}={v}" for k, v in serving_selector(name, Role.CANARY).items())
        pods = await asyncio.to_thread(self.kube.list, "v1", "Pod", self.namespace, selector)
        ips = [p["status"].get("podIP") for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        urls = [f"http://{ip}:{spec.serving.port}/metrics" for ip in ips if ip]
        return await scrape(urls) if urls else None

    async def _evaluation(
        self, name: str, spec: ClickModelSpec, status: ClickModelStatus
    ) -> tuple[RunObservation | None, EvaluationReport | None]:
        """The evaluation run status names (the canary's look, else monitoring's), and its report once done."""
        run_name = evaluation_run_name(status)
        if run_name is None:
            return None, None
        run = await self._run(run_name)
        if run.state is not RunState.SUCCEEDED:
            return run, None
        return run, await asyncio.to_thread(evaluation_report, spec, name, run_name)
