"""Shadow mirroring: copy each primary request to the candidate service, never slowing the primary.

The primary only does a `put_nowait` on a bounded queue; a full queue drops
the copy and counts it. A few background tasks post the copies to the shadow
with the primary's request id and the mirror header, so the candidate logs
its predictions with role `shadow` and the same id (the join key).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from clickcast.serving import metrics

log = logging.getLogger("clickcast.serving")

MIRROR_HEADER = "x-clickcast-mirror"
REQUEST_ID_HEADER = "x-request-id"


class ShadowMirror:
    def __init__(self, url: str, queue_size: int = 1000, concurrency: int = 4, timeout: float = 2.0) -> None:
        self.url = url.rstrip("/")
        self.queue_size = queue_size
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

    def submit(self, path: str, request_id: str, body: bytes) -> None:
        """Queue a copy of a request; never blocks, drops (and counts) when the queue is full."""
        if self._queue is None:
            return
        try:
            self._queue.put_nowait((path, request_id, body))
        except asyncio.QueueFull:
            metrics.SHADOW.labels("dropped").inc()

    async def _worker(self) -> None:
        assert self._queue is not None
        assert self._client is not None
        headers = {"content-type": "application/json", MIRROR_HEADER: "1"}
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
            metrics.SHADOW.labels("sent" if ok else "error").inc()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
