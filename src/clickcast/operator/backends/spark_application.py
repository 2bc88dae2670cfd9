"""A Spark Operator SparkApplication (`spec.training.backend: sparkApplication`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clickcast.core.observed import RunObservation, RunState
from clickcast.jobs import manifests
from clickcast.operator.backends.base import Doc, Watched


def spark_app_state(app: Doc | None) -> RunObservation:
    if app is None:
        return RunObservation(RunState.MISSING)
    state = (app.get("status") or {}).get("applicationState") or {}
    name = state.get("state", "")
    if name == "COMPLETED":
        return RunObservation(RunState.SUCCEEDED)
    if name in ("FAILED", "SUBMISSION_FAILED", "FAILING"):
        return RunObservation(RunState.FAILED, f"SparkApplication {name}: {state.get('errorMessage', '')}".strip())
    return RunObservation(RunState.RUNNING, name)


class SparkApplicationBackend:
    api_version: str = "sparkoperator.k8s.io/v1beta2"
    kind: str = "SparkApplication"
    needs_config_map: bool = True
    watched: Watched = Watched("sparkoperator.k8s.io", "v1beta2", "sparkapplications")
    rules: Sequence[Doc] = (
        {
            "apiGroups": ["sparkoperator.k8s.io"],
            "resources": ["sparkapplications"],
            "verbs": ["create", "get", "list", "watch", "delete"],  # delete: StopRun, past the training deadline
        },
    )

    def build(self, *, reference: tuple[str, str] | None, jobs_dir: str, **common: Any) -> Doc:
        return manifests.spark_application(**common, reference=reference, jobs_dir=jobs_dir)

    def pod_selector(self, doc: Doc) -> str | None:
        return None  # the Spark Operator reports the error in the application's state

    def state(self, doc: Doc | None, pods: list[Doc]) -> RunObservation:
        return spark_app_state(doc)
