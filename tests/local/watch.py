"""What a `clickcast run` or `clickcast demo` has running, seen from outside: to prove none of it outlives it.

A run's processes are found two ways: its process tree as it goes, and the mark the runner sets in the
environment of everything it starts (BentoML's workers leave the tree's process groups and sessions, and a
killed runner's children leave the tree).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from clickcast.local.ownership import STATE_ENV

SPARK_UI_PORTS = range(4040, 4100)
"""Spark's UI takes the first free port from 4040 up, so another test's Spark may take the one a run's JVM had the
moment it is free: not watched (the JVM itself is, as a process)."""


def alive(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def name(process: psutil.Process) -> str:
    try:
        return str(process.name())
    except psutil.Error:
        return "?"


def marked(state: Path) -> list[psutil.Process]:
    """Live processes whose environment says they belong to the state directory `state`."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(STATE_ENV) == str(state.resolve()) and alive(process):
                found.append(process)
        except psutil.Error:
            continue
    return found


def listening(ports: set[int]) -> set[int]:
    return {c.laddr.port for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN
            and c.laddr.port in ports}  # fmt: skip


def until(what: str, check: Callable[[], bool], timeout: float, look: Callable[[], None] = lambda: None) -> None:
    """Poll `check` (calling `look` before each try) until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        look()
        if check():
            return
        assert time.monotonic() < deadline, f"no {what} after {timeout:.0f}s"
        time.sleep(0.5)


@dataclass
class Watch:
    """Every process and listening port seen in the run led by `pid` on the state directory `state`."""

    pid: int
    state: Path
    seen: set[psutil.Process] = field(default_factory=set)
    ports: set[int] = field(default_factory=set)

    def look(self) -> None:
        """Add what the run has now: its process tree, what carries its mark, and their listening ports."""
        try:
            leader = psutil.Process(self.pid)
            tree = [leader, *leader.children(recursive=True)]
        except psutil.Error:
            tree = []
        for process in [*tree, *marked(self.state)]:
            self.seen.add(process)
            try:
                self.ports |= {c.laddr.port for c in process.net_connections("tcp")
                               if c.status == psutil.CONN_LISTEN and c.laddr.port not in SPARK_UI_PORTS}  # fmt: skip
            except psutil.Error:
                continue

    def running(self, process_name: str) -> bool:
        return any(name(p) == process_name for p in self.seen if alive(p))

    def left(self) -> tuple[list[str], set[int]]:
        """What of the run is still there: live processes seen in it or marked as its (pid and name), open ports."""
        processes = {p for p in self.seen if alive(p)} | set(marked(self.state))
        return sorted(f"{p.pid} {name(p)}" for p in processes), listening(self.ports)
