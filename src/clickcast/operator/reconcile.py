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
from clickcast.core.faults import Failure, not_owned, reconcile_failed, reconciled
from clickcast.core.plan import Plan
from clickcast.core.ports import step
from clickcast.operator import metrics
from clickcast.operator.accounting import Key, account
from clickcast.operator.config import OperatorConfig
from clickcast.operator.execute import KubeExecutor
from clickcast.operator.git_credentials import secret_credentials
from clickcast.operator.kube import Doc, KubeApi
from clickcast.operator.observe import KubeObserver
from clickcast.operator.ownership import NotOwned
from clickcast.operator.queue import WorkQueue
from clickcast.operator.record import KubeRecorder
from clickcast.runtime.gitops import GitOpsBridge
from clickcast.store import layout


class Reconciler:
    def __init__(self, kube: KubeApi, config: OperatorConfig, clock: Callable[[], datetime] | None = None) -> None:
        self.kube = kube
        self.config = config
        self.gitops = GitOpsBridge(config.git_cache, secret_credentials(kube), config.git_schemes)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.queue = WorkQueue(self.reconcile, config.workers, on_error=self.failed)
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
            spec = _in_namespace(ClickModelSpec.model_validate(obj["spec"]), key[0])
        except ValidationError as exc:
            await self._invalid(key, obj, status, exc)
            return None
        name = key[1]
        recorder = KubeRecorder(self.kube, obj, self.config.identity)
        executor = KubeExecutor(self.kube, obj, self.config, self.gitops)
        plan = await step(
            name, spec, status, self.clock(),
            observer=KubeObserver(self.kube, obj, self.gitops), executor=executor, recorder=recorder,
        )  # fmt: skip
        account(key, status, plan, self.clock())
        executor.raise_refusals()  # reported by `failed`, retried with backoff like any failure
        await self._record(recorder, name, plan.status, reconciled(plan.status, generation=_generation(obj),
                                                                   now=self.clock()))  # fmt: skip
        metrics.RECONCILE_SECONDS.observe(time.perf_counter() - started)
        return plan.requeue_after.total_seconds() if plan.requeue_after is not None else None

    async def failed(self, key: Key, exc: Exception, failures: int) -> None:
        """After `error_limit` failures in a row, the ClickModel says so (the queue retries with backoff anyway); a
        refusal to touch an object it does not own, at once."""
        if failures < self.config.error_limit and not isinstance(exc, NotOwned):
            return
        obj = await asyncio.to_thread(self.kube.get_clickmodel, *key)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        status = ClickModelStatus.model_validate(obj.get("status") or {})
        if isinstance(exc, NotOwned):  # said at once: retrying does not give the object back
            refused = not_owned(status, str(exc), generation=_generation(obj), now=self.clock())
            await self._record(KubeRecorder(self.kube, obj, self.config.identity), key[1], status, refused)
            return
        failure = Failure.of(type(exc).__name__, str(exc), status=_http_status(exc),
                             http_reason=getattr(exc, "reason", None) if _http_status(exc) else None)  # fmt: skip
        plan = reconcile_failed(status, failure, streak=failures, limit=self.config.error_limit,
                                generation=_generation(obj), now=self.clock())  # fmt: skip
        await self._record(KubeRecorder(self.kube, obj, self.config.identity), key[1], status, plan)

    @staticmethod
    async def _record(recorder: KubeRecorder, name: str, before: ClickModelStatus, plan: Plan) -> None:
        if plan.status != before:
            await recorder.write_status(name, plan.status)
        for event in plan.events:
            await recorder.emit(name, event)

    async def _invalid(self, key: Key, obj: Doc, status: ClickModelStatus, exc: ValidationError) -> None:
        message = "; ".join(str(e) for e in field_errors(exc))
        plan = invalid_spec(status, f"the spec cannot be used: {message}", generation=_generation(obj),
                            now=self.clock())  # fmt: skip
        recorder = KubeRecorder(self.kube, obj, self.config.identity)
        await self._record(recorder, key[1], status, plan)
        # A reconciliation that went through (the spec is what is wrong, and Ready says so): no ReconcileError.
        await self._record(recorder, key[1], plan.status, reconciled(plan.status, generation=_generation(obj),
                                                                     now=self.clock()))  # fmt: skip


def _in_namespace(spec: ClickModelSpec, namespace: str) -> ClickModelSpec:
    """The spec as the operator runs it: its store rooted at the ClickModel's namespace (clickcast.store.layout)."""
    store = spec.store.model_copy(update={"url": layout.namespace_root(spec.store.url, namespace)})
    return spec.model_copy(update={"store": store})


def _generation(obj: Doc) -> int:
    return int(obj["metadata"].get("generation") or 0)


def _http_status(exc: Exception) -> int | None:
    """The HTTP status of an API error (the kubernetes client's ApiException), whose text carries the whole body."""
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None
