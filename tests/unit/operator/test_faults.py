"""The operator's shell under faults: failures counted per ClickModel and reported on it (ReconcileError), the
report's own failure never stopping the loop, and runs that leave nothing behind (no ConfigMap per run)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from clickcast.api.status import ClickModelStatus, ConditionStatus, ConditionType
from clickcast.core.conditions import condition
from clickcast.core.plan import StartEvaluation, StartTraining
from clickcast.operator.config import OperatorConfig
from clickcast.operator.execute import KubeExecutor
from clickcast.operator.queue import WorkQueue
from clickcast.operator.reconcile import Reconciler
from tests.unit.core.core_world import spec

pytestmark = pytest.mark.unit
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
KEY = ("ads", "offers")


class FakeKube:
    """The few KubeApi calls these paths make, on one ClickModel; `refuse` makes status writes fail."""

    def __init__(self, refuse: bool = False) -> None:
        self.obj: dict[str, Any] = {
            "apiVersion": "clickcast.io/v1alpha1", "kind": "ClickModel",
            "metadata": {"name": "offers", "namespace": "ads", "uid": "u1", "generation": 3, "resourceVersion": "1"},
            "spec": {"data": {"url": "file:///d"}, "store": {"url": "file:///s"}}, "status": {"phase": "Serving"},
        }  # fmt: skip
        self.refuse = refuse
        self.events: list[tuple[str, str, str]] = []
        self.created: list[dict[str, Any]] = []

    def get_clickmodel(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.obj

    def replace_status(self, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        if self.refuse:
            raise ConnectionError("the API server is down too")
        self.obj = {**self.obj, "status": status, "metadata": {**self.obj["metadata"], "resourceVersion": "2"}}
        return self.obj

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str, instance: str) -> None:
        self.events.append((type_, reason, message))

    def create(self, doc: dict[str, Any]) -> bool:
        self.created.append(doc)
        return True


def _status(kube: FakeKube) -> ClickModelStatus:
    return ClickModelStatus.model_validate(kube.obj["status"])


def test_the_failure_after_the_limit_sets_reconcile_error_with_a_warning_event() -> None:
    kube = FakeKube()
    reconciler = Reconciler(kube, OperatorConfig(error_limit=3), clock=lambda: NOW)  # type: ignore[arg-type]

    async def fail(streak: int) -> None:
        await reconciler.failed(KEY, PermissionError("Access Denied for s3://lake/models"), streak)

    asyncio.run(fail(2))
    assert condition(_status(kube).conditions, ConditionType.RECONCILE_ERROR) is None and not kube.events
    asyncio.run(fail(3))
    c = condition(_status(kube).conditions, ConditionType.RECONCILE_ERROR)
    assert c is not None and (c.status, c.reason, c.observed_generation) == (
        ConditionStatus.TRUE, "PermissionError", 3)  # fmt: skip
    assert "Access Denied for s3://lake/models" in c.message
    assert [(t, r) for t, r, _ in kube.events] == [("Warning", "ReconcileError")]


def test_a_work_queue_counts_failures_per_key_reports_them_and_survives_a_failing_report(
    caplog: pytest.LogCaptureFixture,
) -> None:
    told: list[tuple[tuple[str, str], str, int]] = []
    outcomes = iter([RuntimeError("boom"), RuntimeError("boom"), None, RuntimeError("again")])

    async def work(key: tuple[str, str]) -> float | None:
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome
        return None

    async def on_error(key: tuple[str, str], exc: Exception, streak: int) -> None:
        told.append((key, str(exc), streak))
        raise ConnectionError("cannot write the condition either")

    async def main() -> None:
        queue = WorkQueue(work, workers=1, on_error=on_error)
        queue.start()
        for _ in range(4):
            queue.enqueue(KEY)
            for _ in range(100):
                await asyncio.sleep(0.01)
                if not queue._active and not queue._queued:
                    break
            for timer in queue._timers.values():
                timer.cancel()  # the backoff's retry: this test enqueues by hand
            queue._timers.clear()
        assert queue.alive  # the report's failure did not take the worker down
        await queue.stop()

    with caplog.at_level(logging.WARNING, logger="clickcast.operator"):
        asyncio.run(main())
    assert told == [(KEY, "boom", 1), (KEY, "boom", 2), (KEY, "again", 1)]  # a success resets the streak
    assert "could not report the failure" in caplog.text


def test_a_failed_report_does_not_raise_out_of_the_failure_hook_of_a_refusing_api() -> None:
    kube = FakeKube(refuse=True)
    reconciler = Reconciler(kube, OperatorConfig(error_limit=1), clock=lambda: NOW)  # type: ignore[arg-type]

    async def main() -> None:
        await reconciler.queue._report(KEY, RuntimeError("x"), 1)

    asyncio.run(main())  # logged, not raised


def test_the_error_limit_is_an_operator_setting() -> None:
    assert OperatorConfig.from_env({}).error_limit == 3
    assert OperatorConfig.from_env({"CLICKCAST_ERROR_LIMIT": "5"}).error_limit == 5
    assert OperatorConfig.from_env({"CLICKCAST_ERROR_LIMIT": "0"}).error_limit == 1
    config = OperatorConfig(error_limit=7)
    assert OperatorConfig.from_env(config.to_env()).error_limit == 7


@pytest.mark.parametrize(
    ("action", "backend"),
    [
        (StartTraining("offers-train-v2", "v2", None), "job"),
        (StartEvaluation("offers-quality-7", None), "job"),
        (StartTraining("offers-train-v2", "v2", None), "sparkApplication"),
    ],
    ids=["training-job", "evaluation-job", "spark-application"],
)
def test_only_a_spark_application_gets_a_config_map_and_every_run_goes_once_finished(
    action: StartTraining | StartEvaluation, backend: str
) -> None:
    kube = FakeKube()
    executor = KubeExecutor(kube, kube.obj, OperatorConfig(), gitops=None)  # type: ignore[arg-type]
    asyncio.run(executor.apply("offers", spec(**{"training.backend": backend}), action))
    kinds = [d["kind"] for d in kube.created]
    if backend == "job":
        assert kinds == ["Job"]  # no ConfigMap to leak: the Job carries the manifest
        ttl = kube.created[0]["spec"]["ttlSecondsAfterFinished"]
        assert ttl == (24 * 3600 if isinstance(action, StartEvaluation) else 7 * 24 * 3600)
    else:
        assert kinds == ["ConfigMap", "SparkApplication"]
        assert kube.created[1]["spec"]["timeToLiveSeconds"] == 7 * 24 * 3600
