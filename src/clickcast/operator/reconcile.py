"""Reconciling one ClickModel: clickcast.core.step with the Kubernetes observer, executor and recorder, behind
the work queue (operator/queue.py); what it changed is counted by operator/accounting.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import ValidationError

from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus
from clickcast.api.validation import field_errors
from clickcast.core.decide import invalid_spec
from clickcast.core.ports import step
from clickcast.operator import metrics
from clickcast.operator.accounting import Key, account
from clickcast.operator.config import OperatorConfig
from clickcast.operator.execute import KubeExecutor
from clickcast.operator.git_credentials import secret_credentials
from clickcast.operator.kube import Doc, KubeApi
from clickcast.operator.observe import KubeObserver
from clickcast.operator.queue import WorkQueue
from clickcast.operator.record import KubeRecorder
from clickcast.runtime.gitops import GitOpsBridge


class Reconciler:
    def __init__(self, kube: KubeApi, config: OperatorConfig, clock: Callable[[], datetime] | None = None) -> None:
        self.kube = kube
        self.config = config
        self.gitops = GitOpsBridge(config.git_cache, secret_credentials(kube))
        self.clock = clock or (lambda: datetime.now(UTC))
        self.queue = WorkQueue(self.reconcile, config.workers)
        self.enqueue, self.forget, self.start, self.stop = (
            self.queue.enqueue, self.queue.forget, self.queue.start, self.queue.stop)  # fmt: skip

    @property
    def alive(self) -> bool:
        return self.queue.alive

    async def reconcile(self, key: Key) -> float | None:
        """Observe, decide, record, act; returns when to look again (None: on the next change)."""
        started = time.perf_counter()
        obj = await asyncio.to_thread(self.kube.get_clickmodel, *key)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            self.forget(key)
            return None
        status = ClickModelStatus.model_validate(obj.get("status") or {})
        try:
            spec = ClickModelSpec.model_validate(obj["spec"])
        except ValidationError as exc:
            await self._invalid(key, obj, status, exc)
            return None
        name = key[1]
        plan = await step(
            name, spec, status, self.clock(),
            observer=KubeObserver(self.kube, obj, self.gitops),
            executor=KubeExecutor(self.kube, obj, self.config, self.gitops),
            recorder=KubeRecorder(self.kube, obj, self.config.identity),
        )  # fmt: skip
        account(key, status, plan, self.clock())
        metrics.RECONCILE_SECONDS.observe(time.perf_counter() - started)
        return plan.requeue_after.total_seconds() if plan.requeue_after is not None else None

    async def _invalid(self, key: Key, obj: Doc, status: ClickModelStatus, exc: ValidationError) -> None:
        message = "; ".join(str(e) for e in field_errors(exc))
        generation = int(obj["metadata"].get("generation") or 0)
        plan = invalid_spec(status, f"the spec cannot be used: {message}", generation=generation, now=self.clock())
        recorder = KubeRecorder(self.kube, obj, self.config.identity)
        if plan.status != status:
            await recorder.write_status(key[1], plan.status)
        for event in plan.events:
            await recorder.emit(key[1], event)
