"""A Kubernetes Job running spark-submit (the default backend; scoring and evaluation runs are Jobs too)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clickcast.core.observed import RunObservation, RunState
from clickcast.jobs import manifests
from clickcast.operator.backends.base import Doc, Watched

MESSAGE_TAIL = 600


def job_state(job: Doc | None, pods: list[Doc]) -> RunObservation:
    """A Job's outcome, with the reason and the failing container's last words (its termination message)."""
    if job is None:
        return RunObservation(RunState.MISSING)
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("status") != "True":
            continue
        if cond["type"] == "Complete":
            return RunObservation(RunState.SUCCEEDED)
        if cond["type"] == "Failed":
            detail = next((m for m in map(_termination_message, pods) if m), "")
            message = f"Job {job['metadata']['name']} failed: {cond.get('reason', '')} {cond.get('message', '')}"
            return RunObservation(RunState.FAILED, f"{message.strip()}{': ' + detail if detail else ''}")
    return RunObservation(RunState.RUNNING)


def _termination_message(pod: Doc) -> str:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        terminated = (status.get("state") or {}).get("terminated") or {}
        if terminated.get("exitCode") and terminated.get("message"):
            lines = [line for line in terminated["message"].strip().splitlines() if line.strip()]
            return f"exit code {terminated['exitCode']}: {' | '.join(lines[-3:])}"[-MESSAGE_TAIL:]
    return ""


class JobBackend:
    api_version: str = "batch/v1"
    kind: str = "Job"
    needs_config_map: bool = False
    watched: Watched = Watched("batch", "v1", "jobs")
    # Deleted only when a training run outlives its deadline (StopRun); otherwise they go after
    # ttlSecondsAfterFinished, or with their ClickModel.
    rules: Sequence[Doc] = (
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "list", "watch", "delete"]},
    )

    def build(self, *, reference: tuple[str, str] | None, jobs_dir: str, **common: Any) -> Doc:
        return manifests.training_job(**common, reference=reference, jobs_dir=jobs_dir)

    def pod_selector(self, doc: Doc) -> str | None:
        if not (doc.get("status") or {}).get("failed"):
            return None
        return f"batch.kubernetes.io/controller-uid={doc['metadata']['uid']}"

    def state(self, doc: Doc | None, pods: list[Doc]) -> RunObservation:
        return job_state(doc, pods)
