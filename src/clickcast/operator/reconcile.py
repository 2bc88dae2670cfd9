"""Reconciling ClickModels: a work queue (one reconciliation at a time per ClickModel, requeue after a delay,
backoff on errors) in front of clickcast.core.step with the Kubernetes observer, executor and recorder."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from clickcast.analysis.gates import failed
from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus, QualityState
from clickcast.api.validation import field_errors
from clickcast.core.decide import invalid_spec
from clickcast.core.events import EventReason
from clickcast.core.plan import Plan, StartTraining
from clickcast.core.ports import step
from clickcast.operator import metrics
from clickcast.operator.config import OperatorConfig
from clickcast.operator.execute import KubeExecutor
from clickcast.operator.git_credentials import secret_credentials
from clickcast.operator.kube import Conflict, Doc, KubeApi
from clickcast.operator.observe import KubeObserver
from clickcast.operator.record import KubeRecorder
from clickcast.runtime.gitops import GitOpsBridge

log = logging.getLogger("clickcast.operator")
Key = tuple[str, str]  # (namespace, name)
TRAINING_OUTCOME = {EventReason.TRAINING_SUCCEEDED: "succeeded", EventReason.TRAINING_FAILED: "failed"}
"""The trainings counter's label for each Event that ends a training run."""
ERROR_BACKOFF = (1.0, 2.0, 5.0, 15.0, 30.0, 60.0)


def _extra(key: Key, status: ClickModelStatus | None) -> dict[str, Any]:
    """Structured fields of every log line: the ClickModel, its version in flight (or stable) and its phase."""
    version = None
    if status is not None:
        version = (status.candidate and status.candidate.version) or (
            status.training and status.training.version) or (status.stable and status.stable.version)  # fmt: skip
    return {"clickmodel": f"{key[0]}/{key[1]}", "version": version, "phase": status.phase if status else None}


def _model_gauges(key: Key, status: ClickModelStatus) -> None:
    """The per-ClickModel gauges alerts are written against (quality, canary)."""
    labels = {"namespace": key[0], "clickmodel": key[1]}
    m = status.monitoring
    if m is not None:
        metrics.HEALTHY.labels(**labels).set(
            -1 if m.state is QualityState.UNKNOWN else 1 if m.state is QualityState.HEALTHY else 0)  # fmt: skip
        if m.deviance_ratio is not None:
            metrics.QUALITY_RATIO.labels(**labels).set(m.deviance_ratio)
        if m.cusum is not None:
            metrics.QUALITY_CUSUM.labels(**labels).set(m.cusum)
    c = status.canary
    if c is not None:
        metrics.CANARY_OBSERVATIONS.labels(**labels).set(c.candidate_observations)
        for bound, value in (("estimate", c.deviance_ratio), ("low", c.ci_low), ("high", c.ci_high)):
            if value is not None:
                metrics.CANARY_RATIO.labels(**labels, bound=bound).set(value)


class Reconciler:
    def __init__(self, kube: KubeApi, config: OperatorConfig, clock: Callable[[], datetime] | None = None) -> None:
        self.kube = kube
        self.config = config
        self.gitops = GitOpsBridge(config.git_cache, secret_credentials(kube))
        self.clock = clock or (lambda: datetime.now(UTC))
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._queued: set[Key] = set()
        self._active: set[Key] = set()
        self._dirty: set[Key] = set()
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._errors: dict[Key, int] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # --- the queue ---------------------------------------------------------------------------

    def enqueue(self, key: Key, after: float = 0.0) -> None:
        """Reconcile `key` now, or after `after` seconds (an earlier request wins over a later one)."""
        loop = asyncio.get_running_loop()
        if after > 0:
            timer = self._timers.get(key)
            if timer is not None and timer.when() <= loop.time() + after:
                return
            if timer is not None:
                timer.cancel()
            self._timers[key] = loop.call_later(after, self._ready, key)
            return
        self._ready(key)

    def _ready(self, key: Key) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        if key in self._active:
            self._dirty.add(key)  # changed while being reconciled: once more afterwards
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)
            metrics.QUEUE_DEPTH.set(self._queue.qsize())

    def forget(self, key: Key) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._errors.pop(key, None)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker(), name=f"clickcast-worker-{i}")
                       for i in range(self.config.workers)]  # fmt: skip

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for timer in self._timers.values():
            timer.cancel()

    @property
    def alive(self) -> bool:
        return bool(self._tasks) and not any(t.done() for t in self._tasks)

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._active.add(key)
            metrics.QUEUE_DEPTH.set(self._queue.qsize())
            requeue: float | None = None
            try:
                requeue = await self.reconcile(key)
                self._errors.pop(key, None)
                metrics.RECONCILES.labels("ok").inc()
            except Conflict:
                metrics.RECONCILES.labels("conflict").inc()
                requeue = 0.0  # someone wrote first: decide again on what they wrote
            except Exception as exc:  # a transient fault of the API server or the store: back off, retry
                n = self._errors[key] = self._errors.get(key, 0) + 1
                requeue = ERROR_BACKOFF[min(n, len(ERROR_BACKOFF)) - 1]
                metrics.RECONCILES.labels("error").inc()
                metrics.ERRORS.labels(type(exc).__name__).inc()
                log.warning("reconcile failed (attempt %d, retry in %.0fs): %s: %s", n, requeue,
                            type(exc).__name__, exc, extra=_extra(key, None))  # fmt: skip
            finally:
                self._active.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                self._ready(key)
            elif requeue is not None:
                self.enqueue(key, requeue)

    # --- one reconciliation ------------------------------------------------------------------

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
        self._account(key, status, plan)
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

    def _account(self, key: Key, before: ClickModelStatus, plan: Plan) -> None:
        after = plan.status
        extra = _extra(key, after)
        if after.phase is not before.phase:
            if before.phase_since is not None:
                metrics.PHASE_SECONDS.labels(before.phase).observe((self.clock() - before.phase_since).total_seconds())
            log.info("phase %s -> %s", before.phase, after.phase, extra=extra)
        for event in plan.events:
            metrics.TRANSITIONS.labels(event.reason).inc()
            log.info("%s: %s", event.reason, event.message, extra=extra)
            if event.reason in TRAINING_OUTCOME:
                metrics.TRAININGS.labels(TRAINING_OUTCOME[event.reason]).inc()
            if event.reason is EventReason.CANDIDATE_REJECTED and after.history:
                for gate in failed(after.history[0].gates):
                    metrics.GATE_FAILURES.labels(gate.name).inc()
        if any(isinstance(a, StartTraining) for a in plan.actions) and before.phase is not after.phase:
            metrics.TRAININGS.labels("started").inc()
        for entry in (
            after.history[: len(after.history) - len(before.history)] if after.history != before.history else []
        ):
            metrics.RELEASES.labels(entry.decision).inc()
        _model_gauges(key, after)
