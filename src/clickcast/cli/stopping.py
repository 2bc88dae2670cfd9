"""How `clickcast run` and `clickcast demo` end on a signal: every process they started ends with them, checked."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console

if TYPE_CHECKING:
    from clickcast.local.ownership import Leftovers

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Ctrl-C; systemd, a CI timeout or `kill -- -PGID`; a closed terminal."""


class Stopper:
    """Runs the work until the first of SIGNALS cancels it; its cleanup stops every process it started. Later
    signals are ignored, so none cuts that cleanup short (`make demo` gets SIGTERM twice: from its process group,
    and from `uv run`, which forwards it)."""

    def __init__(self) -> None:
        self.signal: signal.Signals | None = None

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        task = asyncio.create_task(work)
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self._stop, task, sig)
        return await task

    def _stop(self, task: asyncio.Task[Any], sig: signal.Signals) -> None:
        if self.signal is None:
            self.signal = sig
            task.cancel()

    @property
    def exit_code(self) -> int:
        """What a shell reports for a command its signal ended: 128 + the signal."""
        return 128 + (self.signal or signal.SIGINT)

    def report(self, console: Console, leftovers: Leftovers | None, what: str, then: str = "") -> bool:
        """Say that every process `what` started is stopped, once checked (`leftovers`; None: it started none);
        whether it is so."""
        for sig in SIGNALS:  # the loop that handled them is gone: a late one must not cut this short
            signal.signal(sig, signal.SIG_IGN)
        if leftovers:
            say(console, f"stopped, but not every process {what} started: {leftovers}")
            return False
        say(console, f"stopped; every process {what} started is stopped too{then}")
        return True


def say(console: Console, line: str) -> None:
    """Print unless the terminal is gone (SIGHUP: writing to it fails, and nothing must stop the shutdown)."""
    with contextlib.suppress(OSError):
        console.print(line, markup=False)
