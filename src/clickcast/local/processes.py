"""Child processes of the runner: started in their own process group, logged to a file, stopped as a group.

Each child also dies with the runner (Linux: the parent-death signal), and carries the runner's mark in its
environment (`clickcast.local.ownership`), so what it starts in other groups and sessions can be found too.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GRACE_SECONDS = 10.0
PR_SET_PDEATHSIG = 1
PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None
"""Looked up once here: the child runs as little Python as it can between fork and exec."""


@dataclass
class Child:
    """One process the runner started: what it runs and where its output goes."""

    argv: Sequence[str]
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def exit_code(self) -> int | None:
        return self.process.poll()


def tail(log: Path, lines: int = 3, limit: int = 400) -> str:
    """The last lines of a log: what a failure message quotes."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept)[-limit:]


def _dies_with(parent: int) -> Callable[[], None]:
    """Runs in the child between fork and exec: SIGTERM it when the thread that started it ends (the runner's
    event loop thread, which lives as long as the runner), and at once if the runner is already gone."""

    def preexec() -> None:
        if PRCTL is not None:
            PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def start(argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Child:
    """Start `argv` in a new session (so Ctrl-C on the terminal reaches the runner only, which stops it)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True,
            preexec_fn=_dies_with(os.getpid()),  # noqa: PLW1509 - a C call and two syscalls: no lock to deadlock on
        )  # fmt: skip
    return Child(argv, log, process)


def _signal_group(child: Child, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.process.pid, sig)


def stop_all(children: Sequence[Child], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM every child's process group at once, SIGKILL them after `grace` seconds (Spark's JVM is in its
    child's group too); one wait for all, so stopping many takes no longer than stopping one."""
    for child in children:
        if child.process.poll() is None:
            _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(c.process.poll() is None for c in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    for child in children:
        _signal_group(child, signal.SIGKILL)  # whatever the leader left behind in its group
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=5)


def stop(child: Child, grace: float = GRACE_SECONDS) -> None:
    stop_all([child], grace)
