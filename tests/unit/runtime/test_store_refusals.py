"""The store refusing a read (botocore's NoCredentialsError is not an OSError) is reported, never raised out of
the observation: the model gets a condition instead of its reconciliation failing (issue 19)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import NoCredentialsError

from clickcast.api.roles import Role
from clickcast.api.status import CanaryStatus, ClickModelStatus, MonitoringStatus, Phase
from clickcast.core.observed import Rollout, RunObservation, RunState
from clickcast.runtime import observation, outcomes
from clickcast.store.credentials import CredentialsError
from tests.unit.core.core_world import spec

pytestmark = pytest.mark.unit


def _opener(exc: BaseException) -> Any:
    def open_(url: str, mode: str = "r") -> Any:
        raise exc

    return open_


@pytest.mark.parametrize(
    ("exc", "refused"),
    [
        (NoCredentialsError(), "NoCredentialsError: Unable to locate credentials"),
        (PermissionError("Access Denied"), "PermissionError: Access Denied"),
        (CredentialsError("storage options need both a key and a secret, or neither"), "CredentialsError: storage"),
        (FileNotFoundError("s3://store/evaluations/x/metrics.json"), None),
    ],
    ids=["no-credentials", "access-denied", "bad-storage-options", "not-written-yet"],
)
def test_read_report_tells_a_refusal_from_a_report_not_written_yet(
    monkeypatch: pytest.MonkeyPatch, exc: BaseException, refused: str | None
) -> None:
    monkeypatch.setattr(outcomes.fsspec, "open", _opener(exc))
    if refused is None:
        assert outcomes.read_report("s3://store/evaluations/x/metrics.json") is None
        return
    with pytest.raises(outcomes.StoreRefused, match=refused):
        outcomes.read_report("s3://store/evaluations/x/metrics.json")


def test_a_report_that_is_there_is_read(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text('{"rows": 3, "unmatched": 0}')
    report = outcomes.read_report(f"file://{tmp_path}/metrics.json")
    assert report is not None and report.rows == 3


class Sources:
    """A world whose evaluation run succeeded."""

    async def training_run(self, name: str, spec: Any) -> RunObservation:
        return RunObservation(RunState.SUCCEEDED)

    async def run(self, name: str) -> RunObservation:
        return RunObservation(RunState.SUCCEEDED)

    async def rollouts(self) -> dict[Role, Rollout]:
        return {}

    async def canary_metrics(self, spec: Any) -> list[str]:
        return []

    async def route_weight(self, spec: Any) -> int | None:
        return None


@pytest.mark.parametrize("phase", ["canary", "monitoring", "training"])
def test_the_observation_carries_the_refusal_instead_of_raising(monkeypatch: pytest.MonkeyPatch, phase: str) -> None:
    monkeypatch.setattr(outcomes.fsspec, "open", _opener(NoCredentialsError()))
    monkeypatch.setattr(outcomes, "read_evidence", lambda *a, **k: (_ for _ in ()).throw(NoCredentialsError()))
    look = CanaryStatus(version="v2", job_name="offers-canary-v2-1")
    status = {
        "canary": ClickModelStatus(phase=Phase.CANARY, canary=look),
        "monitoring": ClickModelStatus(phase=Phase.SERVING, monitoring=MonitoringStatus(job_name="offers-quality-1")),
        "training": ClickModelStatus.model_validate({"phase": "Training", "training": {"jobName": "offers-train-v2",
                                                                                      "version": "v2"}}),
    }[phase]  # fmt: skip
    seen = asyncio.run(observation.observe("offers", spec(), status, Sources(), gitops=None, namespace="ads",
                                           generation=1))  # fmt: skip
    assert seen.store_error is not None and "NoCredentialsError: Unable to locate credentials" in seen.store_error
    assert seen.evaluated is None and seen.trained is None
