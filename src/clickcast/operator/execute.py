"""Carrying out the core's actions with Kubernetes objects: deterministic names, owned by the ClickModel.

Nothing is applied or deleted before it is read: an object of the name clickcast would use that is not this
ClickModel's (operator/ownership.py) is left as it is and the refusal kept in `KubeExecutor.refused`, for the
reconciliation to report once the other actions are done. The write then carries what was read as its
precondition (resourceVersion, uid), so an object that changed hands in between is not touched either.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from clickcast.api.images import resolve_images
from clickcast.api.roles import Role
from clickcast.api.spec import ClickModelSpec
from clickcast.api.traffic import Traffic
from clickcast.core.plan import (
    Action,
    Deploy,
    RecordPromotion,
    Retire,
    Route,
    StartEvaluation,
    StartScoring,
    StartTraining,
    StopRun,
)
from clickcast.jobs import manifests as jobs
from clickcast.operator.backends import backend
from clickcast.operator.config import OperatorConfig
from clickcast.operator.git_credentials import secret_credentials
from clickcast.operator.kube import Doc, KubeApi
from clickcast.operator.ownership import Foreign, NotOwned, may_touch
from clickcast.runtime.gitops import GitOpsBridge
from clickcast.runtime.outcomes import prediction_log
from clickcast.serving import manifests as serving
from clickcast.store import layout

log = logging.getLogger("clickcast.operator")


def owner_reference(obj: Doc) -> Doc:
    """Children are garbage-collected with their ClickModel: no finalizer needed."""
    meta = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}  # fmt: skip


class KubeExecutor:
    """Executor (clickcast.core.ports): every action is idempotent (create-or-adopt, server-side apply)."""

    def __init__(self, kube: KubeApi, obj: Doc, config: OperatorConfig, gitops: GitOpsBridge | None = None) -> None:
        self.kube = kube
        self.obj = obj
        self.config = config
        self.gitops = gitops or GitOpsBridge(config.git_cache, secret_credentials(kube), config.git_schemes)
        self.namespace: str = obj["metadata"]["namespace"]
        self.owner = [owner_reference(obj)]
        self.uid: str = obj["metadata"]["uid"]
        self.refused: list[Foreign] = []
        """Objects this executor would have applied or deleted but does not own (reported by the caller)."""

    async def apply(self, name: str, spec: ClickModelSpec, action: Action) -> None:
        # The one place a spec becomes objects: images it leaves unset are the operator's, and the run's frozen
        # ClickModel (its ConfigMap) and every pod name the image that runs.
        spec = resolve_images(spec, self.config.images)
        match action:
            case StartTraining():
                await self._start_training(name, spec, action)
            case StartScoring():
                await self._start_scoring(name, spec, action)
            case StartEvaluation():
                await self._start_evaluation(name, spec, action)
            case Deploy():
                await self._deploy(name, spec, action)
            case Route():
                assert spec.canary.gateway is not None  # the core routes only with a gateway
                await self._apply_owned(serving.http_route(
                    model=name, namespace=self.namespace, serving=spec.serving, gateway=spec.canary.gateway,
                    canary_weight=action.canary_weight, owner=self.owner))  # fmt: skip
            case RecordPromotion():
                await self.gitops.record(self.namespace, name, spec, action)
            case Retire():
                await self._retire(name, action.role)
            case StopRun():
                on = backend(spec.training.backend)
                await self._delete_owned(on.api_version, on.kind, action.name)

    def raise_refusals(self) -> None:
        """Raise NotOwned if any action was refused (after all of them were carried out as far as they could)."""
        if self.refused:
            raise NotOwned(self.refused)

    async def _read(self, api_version: str, kind: str, name: str) -> Doc | None:
        return await asyncio.to_thread(self.kube.get, api_version, kind, self.namespace, name)

    def _mine(self, found: Doc | None, verb: str) -> bool:
        """Absent, or this ClickModel's; otherwise the refusal is kept and False returned."""
        if found is None or may_touch(found["metadata"].get("ownerReferences"), self.uid):
            return True
        self.refused.append(Foreign.of(found, verb))
        log.warning("refused to %s %s: %s", verb, found["metadata"].get("name"), self.refused[-1],
                    extra={"clickmodel": f"{self.namespace}/{self.obj['metadata']['name']}"})  # fmt: skip
        return False

    async def _apply_owned(self, *docs: Doc) -> bool:
        """Apply `docs` (all or none): each must be absent or this ClickModel's, and unchanged since it was read."""
        found = [await self._read(d["apiVersion"], d["kind"], d["metadata"]["name"]) for d in docs]
        mine = [self._mine(f, "apply") for f in found]  # every refusal is kept, not only the first
        if not all(mine):
            return False
        for doc, current in zip(docs, found, strict=True):
            # An absent object is created by the apply itself; one created in the short gap since the read would be
            # taken over (server-side apply has no "must not exist" precondition), the one race left open.
            version = current["metadata"]["resourceVersion"] if current is not None else None
            await asyncio.to_thread(self.kube.apply, doc, version)
        return True

    async def _delete_owned(self, api_version: str, kind: str, name: str) -> None:
        found = await self._read(api_version, kind, name)
        if found is None or not self._mine(found, "delete"):
            return
        meta = found["metadata"]
        await asyncio.to_thread(self.kube.delete, api_version, kind, self.namespace, name,
                                {"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]})  # fmt: skip

    async def _create_or_adopt(self, doc: Doc) -> bool:
        """Create `doc`, or find it already there as this ClickModel's (a restart); False if it is someone else's."""
        if await asyncio.to_thread(self.kube.create, doc):
            log.info("created %s %s", doc["kind"], doc["metadata"]["name"], extra=self._extra(doc))
            return True
        return self._mine(await self._read(doc["apiVersion"], doc["kind"], doc["metadata"]["name"]), "apply")

    def _extra(self, doc: Doc) -> dict[str, Any]:
        version = doc["metadata"].get("labels", {}).get("clickcast.io/version")
        return {"clickmodel": f"{self.namespace}/{self.obj['metadata']['name']}", "version": version}

    async def _start_training(self, name: str, spec: ClickModelSpec, action: StartTraining) -> None:
        reference = (action.reference.uri, action.reference.manifest_sha256) if action.reference else None
        common: dict[str, Any] = {"name": action.name, "namespace": self.namespace, "model": name,
                                  "version": action.version, "spec": spec, "owner": self.owner}  # fmt: skip
        on = backend(spec.training.backend)
        if on.needs_config_map and not await self._create_or_adopt(jobs.model_config_map(**common, run="training")):
            return  # its run would mount someone else's ConfigMap
        await self._create_or_adopt(on.build(**common, reference=reference, jobs_dir=self.config.jobs_dir))

    async def _start_scoring(self, name: str, spec: ClickModelSpec, action: StartScoring) -> None:
        common: dict[str, Any] = {"name": action.name, "namespace": self.namespace, "model": name,
                                  "version": action.pin.version, "spec": spec, "owner": self.owner}  # fmt: skip
        await self._create_or_adopt(jobs.scoring_job(**common, model_uri=action.pin.uri,
                                                     manifest_sha256=action.pin.manifest_sha256, output=action.output,
                                                     jobs_dir=self.config.jobs_dir))  # fmt: skip

    async def _start_evaluation(self, name: str, spec: ClickModelSpec, action: StartEvaluation) -> None:
        version = action.compare.candidate if action.compare else "stable"
        common: dict[str, Any] = {"name": action.name, "namespace": self.namespace, "model": name,
                                  "version": version, "spec": spec, "owner": self.owner}  # fmt: skip
        await self._create_or_adopt(jobs.evaluation_job(
            **common, predictions=prediction_log(name, spec), after=action.after, compare=action.compare,
            output=layout.evaluation_dir(spec.store.url, name, action.name), jobs_dir=self.config.jobs_dir,
        ))  # fmt: skip

    async def _deploy(self, name: str, spec: ClickModelSpec, action: Deploy) -> None:
        shadow_url = None  # the one mapping of Traffic here: MIRROR copies to the canary's Service
        if action.traffic is Traffic.MIRROR:
            shadow_url = serving.service_url(model=name, role=Role.CANARY, serving=spec.serving,
                                             namespace=self.namespace)  # fmt: skip
        deployment = serving.deployment(
            model=name, version=action.pin.version, model_uri=action.pin.uri,
            manifest_sha256=action.pin.manifest_sha256,
            role=action.role, serving=spec.serving, namespace=self.namespace,
            prediction_log_url=prediction_log(name, spec), owner=self.owner,
            storage_secret=spec.data.storage_options_secret, shadow_url=shadow_url, replicas=action.replicas,
            traffic=action.traffic, mirror_token=serving.mirror_token(self.uid),
        )  # fmt: skip
        svc = serving.service(model=name, role=action.role, serving=spec.serving, namespace=self.namespace,
                              owner=self.owner)  # fmt: skip
        if not await self._apply_owned(svc, deployment):
            return
        log.info("%s serves %s", deployment["metadata"]["name"], action.pin.version, extra=self._extra(deployment))

    async def _retire(self, name: str, role: Role) -> None:
        object_name = serving.object_name(name, role)
        await self._delete_owned("apps/v1", "Deployment", object_name)
        await self._delete_owned("v1", "Service", object_name)
