"""Which processes belong to a runner, how they are ended, and the proof that none is left.

A process tree is not enough to find them: BentoML's workers start their own sessions, PySpark's daemons their
own process groups, and a killed runner's children are re-parented away from it. So every process a runner
starts carries its mark in the environment (`CLICKCAST_RUN_STATE`, `CLICKCAST_RUN_ID`), which every process
they start inherits; finding them is a scan of the environments of this user's processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

STATE_ENV = "CLICKCAST_RUN_STATE"
"""The state directory the process belongs to: what a new runner looks for to end what a killed one left."""
RUN_ENV = "CLICKCAST_RUN_ID"
"""Which start of the runner: a watchdog ends its own runner's processes, never those of the next runner."""
GRACE_SECONDS = 10.0
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Owner:
    """One start of a runner on a state directory: the mark its processes carry."""

    state_dir: str
    run_id: str

    @classmethod
    def new(cls, state_dir: Path) -> Owner:
        return cls(str(state_dir.resolve()), uuid.uuid4().hex)

    def env(self) -> dict[str, str]:
        return {STATE_ENV: self.state_dir, RUN_ENV: self.run_id}


def marked(state_dir: str, run_id: str | None = None) -> list[psutil.Process]:
    """Live processes carrying the mark of `state_dir` (of any run, or of `run_id` only)."""
    found = []
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        with contextlib.suppress(psutil.Error):  # gone, a zombie, or another user's
            env = process.environ()
            if env.get(STATE_ENV) == state_dir and run_id in (None, env.get(RUN_ENV)):
                found.append(process)
    return found


def alive(process: psutil.Process) -> bool:
    """Running, and not a zombie: a zombie holds no port, no memory and runs nothing."""
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def wait_gone(processes: Iterable[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until none of `processes` is alive, at most `timeout` seconds; those still alive."""
    left = [p for p in processes if alive(p)]
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        left = [p for p in left if alive(p)]
    return left


def end(processes: list[psutil.Process], grace: float = GRACE_SECONDS) -> list[psutil.Process]:
    """SIGTERM each process, SIGKILL those alive after `grace` seconds; those that still would not die."""
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.terminate()
    for process in wait_gone(processes, grace):
        with contextlib.suppress(psutil.Error):
            process.kill()
    return wait_gone(processes, 5.0)


def describe(process: psutil.Process) -> str:
    try:
        return f"{process.pid} ({' '.join(process.cmdline())[:160]})"
    except psutil.Error:
        return str(process.pid)


def answering(host: str, ports: Iterable[int]) -> list[int]:
    """Those of `ports` on `host` that still accept a connection (asking the port itself needs no privilege)."""
    found = []
    for port in sorted(set(ports)):
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1.0):
            found.append(port)
    return found


@dataclass(frozen=True)
class Leftovers:
    """What is still there of a runner once it stopped: nothing, when it may say it stopped everything."""

    processes: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()

    @classmethod
    def of(cls, owner: Owner, host: str, ports: Iterable[int]) -> Leftovers:
        processes = tuple(describe(p) for p in marked(owner.state_dir, owner.run_id) if alive(p))
        return cls(processes, tuple(answering(host, ports)))

    def __bool__(self) -> bool:
        return bool(self.processes or self.ports)

    def __str__(self) -> str:
        parts = [f"still running: {', '.join(self.processes)}"] if self.processes else []
        parts += [f"ports still open: {', '.join(map(str, self.ports))}"] if self.ports else []
        return "; ".join(parts)


class StateDirInUseError(OSError):
    """Another live runner holds the state directory."""


class StateLock:
    """One runner per state directory. The kernel drops the lock with its holder, even a SIGKILLed one, so a
    killed run never blocks the next; and a new runner may end whatever carries the directory's mark."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "runner.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited: no child may keep the lock
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StateDirInUseError(f"{self.path.parent} is in use by another clickcast run (pid {holder})") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
