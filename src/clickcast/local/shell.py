"""The embedded runner's Observer, Executor and Recorder (clickcast.core.ports): local processes and files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import yaml

from clickcast.api.resource import ClickModel, ObjectMeta
from clickcast.api.roles import Role
from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus
from clickcast.core.observed import Observed, Rollout, RunObservation
from clickcast.core.plan import (
    Action,
    Deploy,
    Event,
    RecordPromotion,
    Retire,
    Route,
    StartEvaluation,
    StartScoring,
    StartTraining,
    StopRun,
)
from clickcast.jobs.manifests import evaluation_args, scoring_args, train_args
from clickcast.local.runs import LocalRuns
from clickcast.local.services import LocalServices
from clickcast.runtime import observation
from clickcast.runtime.gitops import GitOpsBridge
from clickcast.runtime.observation import Unrunnable
from clickcast.runtime.outcomes import prediction_log
from clickcast.store import layout

NAMESPACE = "local"
"""The namespace of every record `clickcast run` makes (GitOps paths, reports): there is no cluster."""


class LocalObserver:
    """Observer (clickcast.core.ports) over local processes and the model store: the `Sources` of
    clickcast.runtime.observation, which assembles what they read."""

    def __init__(self, runs: LocalRuns, services: LocalServices, gitops: GitOpsBridge, generation: int) -> None:
        self.runs, self.services, self.gitops, self.generation = runs, services, gitops, generation

    async def observe(self, name: str, spec: ClickModelSpec, status: ClickModelStatus) -> Observed:
        await self.services.poll()
        return await observation.observe(name, spec, status, self, gitops=self.gitops, namespace=NAMESPACE,
                                         generation=self.generation)  # fmt: skip

    async def training_run(self, name: str, spec: ClickModelSpec) -> RunObservation:
        return self.runs.observe(name)

    async def run(self, name: str) -> RunObservation:
        return self.runs.observe(name)

    async def rollouts(self) -> dict[Role, Rollout]:
        return self.services.rollouts()

    async def canary_metrics(self, spec: ClickModelSpec) -> list[str]:
        return self.services.metrics_urls(Role.CANARY)

    async def route_weight(self, spec: ClickModelSpec) -> int | None:
        raise Unrunnable("spec.canary.gateway: `clickcast run` has no Gateway API (split by replicas instead)")


class LocalExecutor:
    def __init__(self, runs: LocalRuns, services: LocalServices, gitops: GitOpsBridge) -> None:
        self.runs, self.services, self.gitops = runs, services, gitops

    async def apply(self, name: str, spec: ClickModelSpec, action: Action) -> None:
        match action:
            case StartTraining():
                reference = (action.reference.uri, action.reference.manifest_sha256) if action.reference else None
                model_file = self.runs.model_file(action.name, name, spec)
                self.runs.ensure(action.name, "train", train_args(name, action.version, reference, model_file), spec)
            case StartScoring():
                self.runs.model_file(action.name, name, spec)
                self.runs.ensure(action.name, "score", scoring_args(spec, action.pin.uri, action.pin.manifest_sha256,
                                                                    action.output), spec)  # fmt: skip
            case StartEvaluation():
                model_file = self.runs.model_file(action.name, name, spec)
                output = layout.evaluation_dir(spec.store.url, name, action.name)
                args = evaluation_args(spec, prediction_log(name, spec), output, after=action.after,
                                       compare=action.compare, model_file=model_file)  # fmt: skip
                self.runs.ensure(action.name, "evaluate", args, spec)
            case Deploy():
                await self.services.deploy(name, spec, action)
            case Retire():
                await self.services.retire(action.role)
            case StopRun():
                self.runs.cancel(action.name)
            case RecordPromotion():
                await self.gitops.record(NAMESPACE, name, spec, action)
            case Route():
                pass  # never asked: a gateway spec is reported as not runnable here


class FileRecorder:
    """The status in a ClickModel document on disk (replaced atomically), Events in a JSON-lines file."""

    def __init__(self, state_dir: Path, on_event: Callable[[Event], None] | None = None) -> None:
        self.state_dir = state_dir
        self.on_event = on_event
        self.metadata = ObjectMeta(name="unset")  # set by the runner from the ClickModel file
        self.spec: ClickModelSpec | None = None

    def status_file(self, name: str) -> Path:
        return self.state_dir / f"{name}.yaml"

    def load(self, name: str) -> ClickModel | None:
        path = self.status_file(name)
        if not path.exists():
            return None
        return ClickModel.model_validate(yaml.safe_load(path.read_text()))

    async def write_status(self, name: str, status: ClickModelStatus) -> None:
        assert self.spec is not None
        doc = ClickModel(metadata=self.metadata, spec=self.spec, status=status).to_wire()
        path = self.status_file(name)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w") as out:
            yaml.safe_dump(doc, out, sort_keys=False)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)

    async def emit(self, name: str, event: Event) -> None:
        with (self.state_dir / "events.jsonl").open("a") as out:
            out.write(json.dumps({"type": str(event.type), "reason": event.reason, "message": event.message}) + "\n")
        if self.on_event is not None:
            self.on_event(event)
