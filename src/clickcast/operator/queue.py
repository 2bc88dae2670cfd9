"""The operator's work queue: one reconciliation at a time per ClickModel, requeue after a delay, backoff on errors.

Nothing here knows what a reconciliation does: `WorkQueue` calls `work(key)`, which returns when to look again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from clickcast.operator import metrics
from clickcast.operator.accounting import Key, log_fields
from clickcast.operator.kube import Conflict

log = logging.getLogger("clickcast.operator")
ERROR_BACKOFF = (1.0, 2.0, 5.0, 15.0, 30.0, 60.0)


OnError = Callable[[Key, Exception, int], Awaitable[None]]
"""(key, the exception, failures of that key in a row including this one): told after each failed reconciliation."""


class WorkQueue:
    def __init__(
        self, work: Callable[[Key], Awaitable[float | None]], workers: int, on_error: OnError | None = None
    ) -> None:
        self.work = work
        self.workers = workers
        self.on_error = on_error
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._queued: set[Key] = set()
        self._active: set[Key] = set()
        self._dirty: set[Key] = set()
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self._errors: dict[Key, int] = {}
        self._tasks: list[asyncio.Task[None]] = []

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
                       for i in range(self.workers)]  # fmt: skip

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

    async def _report(self, key: Key, exc: Exception, failures: int) -> None:
        """Tell `on_error`; its own failure (the API server being what fails, say) is logged, never raised."""
        if self.on_error is None:
            return
        try:
            await self.on_error(key, exc, failures)
        except Exception as report:  # the loop must go on: the retry is already scheduled
            log.warning("could not report the failure on the ClickModel: %s: %s", type(report).__name__, report,
                        extra=log_fields(key, None))  # fmt: skip

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._active.add(key)
            metrics.QUEUE_DEPTH.set(self._queue.qsize())
            requeue: float | None = None
            try:
                requeue = await self.work(key)
                self._errors.pop(key, None)
                metrics.RECONCILES.labels("ok").inc()
            except Conflict:
                metrics.RECONCILES.labels("conflict").inc()
                requeue = 0.0  # someone wrote first: decide again on what they wrote
            except Exception as exc:  # a fault of the API server, the store or a bug: back off, retry, and say so
                n = self._errors[key] = self._errors.get(key, 0) + 1
                requeue = ERROR_BACKOFF[min(n, len(ERROR_BACKOFF)) - 1]
                metrics.RECONCILES.labels("error").inc()
                metrics.ERRORS.labels(type(exc).__name__).inc()
                log.warning("reconcile failed (attempt %d, retry in %.0fs): %s: %s", n, requeue,
                            type(exc).__name__, exc, extra=log_fields(key, None))  # fmt: skip
                await self._report(key, exc, n)
            finally:
                self._active.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                self._ready(key)
            elif requeue is not None:
                self.enqueue(key, requeue)
