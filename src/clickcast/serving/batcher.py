"""Adaptive batching: requests that arrive while a prediction runs are predicted together.

There is no waiting window: an idle service predicts a request at once, and
under load each model call takes everything queued meanwhile (up to
`max_rows`), so the batch size adapts to the load and the latency does not
grow with a timer. A model call of more than `thread_rows` runs in a thread:
xgboost releases the GIL while it predicts, so the event loop parses the
next requests meanwhile on the other core.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from clickcast.features.spec import Columns

Predict = Callable[[Columns], npt.NDArray[np.float64]]


class AdaptiveBatcher:
    def __init__(self, predict: Predict, max_rows: int = 4096, thread_rows: int = 256) -> None:
        self.predict = predict
        self.max_rows = max_rows
        self.thread_rows = thread_rows
        self._queue: asyncio.Queue[tuple[dict[str, list[Any]], asyncio.Future[npt.NDArray[np.float64]]]] = (
            asyncio.Queue()
        )
        self._task: asyncio.Task[None] | None = None
        self._carry: tuple[dict[str, list[Any]], asyncio.Future[npt.NDArray[np.float64]]] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def submit(self, columns: dict[str, list[Any]]) -> npt.NDArray[np.float64]:
        """Predict rows given column-wise; returns one value per row."""
        future: asyncio.Future[npt.NDArray[np.float64]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((columns, future))
        return await future

    async def _run(self) -> None:
        while True:
            items = [self._carry or await self._queue.get()]
            self._carry = None
            rows = _rows(items[0][0])
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if rows + _rows(item[0]) > self.max_rows:
                    self._carry = item  # first in the next call
                    break
                items.append(item)
                rows += _rows(item[0])
            try:
                merged = items[0][0] if len(items) == 1 else _concat([c for c, _ in items])
                if rows > self.thread_rows:
                    out = await asyncio.to_thread(self.predict, merged)
                else:
                    out = self.predict(merged)
            except Exception as exc:  # hand the error to every waiting request
                for _, future in items:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for columns, future in items:
                n = _rows(columns)
                if not future.done():
                    future.set_result(out[start : start + n])
                start += n

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _rows(columns: dict[str, list[Any]]) -> int:
    return len(next(iter(columns.values())))


def _concat(parts: list[dict[str, list[Any]]]) -> dict[str, list[Any]]:
    return {name: [v for part in parts for v in part[name]] for name in parts[0]}
