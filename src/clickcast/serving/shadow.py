"""Shadow mirroring: copy each primary request to the candidate service, never slowing the primary.

The primary only does a `put_nowait` on a queue bounded twice: by count, and by the bytes of the bodies
it holds (queued or being sent), so a slow or hanging candidate costs the primary at most `max_bytes` of
memory whatever the request sizes. A copy over either bound is dropped and counted
(`clickcast_shadow_mirror_dropped_total{reason}`). A few background tasks post the copies to the shadow
with the primary's request id and the mirror header carrying the release's token (MIRROR_TOKEN), so the
candidate logs its predictions with role `shadow` and the same id (the join key), and no client can.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from clickcast.serving import metrics
from clickcast.serving.config import SHADOW_QUEUE_BYTES

log = logging.getLogger("clickcast.serving")

MIRROR_HEADER = "x-clickcast-mirror"
REQUEST_ID_HEADER = "x-request-id"


class ShadowMirror:
    def __init__(
        self,
        url: str,
        queue_size: int = 1000,
        concurrency: int = 4,
        timeout: float = 2.0,
        max_bytes: int = SHADOW_QUEUE_BYTES,
        *,
        token: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token or "1"
        """The mirror header's value: the release's token, which the candidate checks."""
        self.queue_size = queue_size
        self.max_bytes = max_bytes
        self.held_bytes = 0
        """Bytes of the bodies queued or being sent; never above `max_bytes`."""
        self.concurrency = concurrency
        self.timeout = timeout
        self._queue: asyncio.Queue[tuple[str, str, bytes]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None
        self._warned = False

    async def start(self) -> None:
        self._queue = asyncio.Queue(self.queue_size)
        self._client = httpx.AsyncClient(timeout=self.timeout, limits=httpx.Limits(max_connections=self.concurrency))
        self._tasks = [asyncio.create_task(self._worker()) for _ in range(self.concurrency)]

    def submit(self, path: str, request_id: str, body: bytes) -> bool:
        """Queue a copy of a request; never blocks. False when it was dropped (and counted): the queue is full, or
        the bodies held would exceed `max_bytes`."""
        if self._queue is None:
            return False
        if self.held_bytes + len(body) > self.max_bytes:
            return self._drop("byte_budget")
        try:
            self._queue.put_nowait((path, request_id, body))
        except asyncio.QueueFull:
            return self._drop("queue_full")
        self._hold(len(body))
        return True

    def _drop(self, reason: str) -> bool:
        metrics.SHADOW.labels("dropped").inc()
        metrics.SHADOW_DROPPED.labels(reason).inc()
        return False

    def _hold(self, size: int) -> None:
        self.held_bytes += size
        metrics.SHADOW_QUEUED_BYTES.inc(size)

    async def _worker(self) -> None:
        assert self._queue is not None
        assert self._client is not None
        headers = {"content-type": "application/json", MIRROR_HEADER: self.token}
        while True:
            path, request_id, body = await self._queue.get()
            try:
                response = await self._client.post(
                    self.url + path, content=body, headers={**headers, REQUEST_ID_HEADER: request_id}
                )
                ok = response.status_code < 500
            except httpx.HTTPError as exc:
                ok = False
                if not self._warned:  # one line, not one per request
                    log.warning("shadow %s unreachable (%s); copies are counted as errors", self.url, exc)
                    self._warned = True
            finally:  # sent, failed or cancelled: the body is no longer held
                self._hold(-len(body))
            metrics.SHADOW.labels("sent" if ok else "error").inc()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
