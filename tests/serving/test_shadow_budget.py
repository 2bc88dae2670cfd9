"""The mirror queue's byte budget (issue 19: a slow canary cannot OOM stable): against a canary that accepts
connections and never answers, the bodies held stay within the budget, what would exceed it is dropped and
counted, and what was held is released once the canary answers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest
from prometheus_client import REGISTRY

from clickcast.serving.shadow import ShadowMirror

pytestmark = pytest.mark.unit


@contextlib.asynccontextmanager
async def canary(answer: asyncio.Event) -> AsyncIterator[str]:
    """An HTTP server on loopback that reads each request whole, then holds it until `answer` is set."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))  # fmt: skip
                await reader.readexactly(length)
                await answer.wait()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


async def until(what: str, check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait on the loop until `check()` holds (a condition, polled; not a fixed delay)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(f"clickcast_{name}", labels) or 0.0


def dropped(reason: str) -> float:
    return sample("shadow_mirror_dropped_total", reason=reason)


def sent() -> float:
    return sample("shadow_mirror_total", outcome="sent")


def test_a_hanging_canary_holds_no_more_than_the_byte_budget_and_the_rest_is_dropped_and_counted() -> None:
    async def main() -> None:
        answer = asyncio.Event()
        async with canary(answer) as url:
            mirror = ShadowMirror(url, queue_size=1000, concurrency=2, timeout=60.0, max_bytes=10_000)
            await mirror.start()
            try:
                budget0, full0, sent0 = dropped("byte_budget"), dropped("queue_full"), sent()
                body = b"x" * 3_000
                assert [mirror.submit("/predict", f"r{i}", body) for i in range(3)] == [True, True, True]
                await until("both workers stuck on the hanging canary", lambda: mirror._queue is not None
                            and mirror._queue.qsize() == 1)  # fmt: skip
                assert mirror.held_bytes == 9_000  # the two in flight count as much as the one queued
                assert mirror.submit("/predict", "r3", body) is False  # 12,000 > 10,000
                assert mirror.submit("/predict", "r4", b"y" * 1_000) is True  # exactly the budget
                assert mirror.submit("/predict", "r5", b"z") is False
                assert mirror.held_bytes == 10_000
                assert dropped("byte_budget") - budget0 == 2
                assert dropped("queue_full") == full0  # the count bound (1,000) was never the limit
                assert sample("shadow_mirror_queued_bytes") >= 10_000

                answer.set()  # the canary answers: every held body is sent and released
                await until("every copy sent", lambda: sent() - sent0 == 4)
                await until("every body released", lambda: mirror.held_bytes == 0)
                assert mirror.submit("/predict", "r6", body) is True  # room again
            finally:
                await mirror.stop()

    asyncio.run(main())


def test_the_count_bound_still_drops_and_says_why() -> None:
    async def main() -> None:
        mirror = ShadowMirror("http://127.0.0.1:9", queue_size=1, concurrency=1, max_bytes=1_000_000)
        mirror._queue = asyncio.Queue(1)  # no workers: nothing leaves the queue
        before = dropped("queue_full")
        assert mirror.submit("/predict", "a", b"{}") is True
        assert mirror.submit("/predict", "b", b"{}") is False
        assert dropped("queue_full") - before == 1
        assert mirror.held_bytes == 2  # the dropped copy is not held

    asyncio.run(main())
