"""`clickcast run`: the lifecycle core with local processes; whatever signal ends it, no process it started outlives
it, and the next run carries on from the status file.

One trained version is shared by every case: a run is interrupted while Spark trains, a `--once` run resumes
and finishes the training and serves, then serving runs are ended by SIGKILL (its processes end without it),
SIGTERM to the process group, SIGTERM to the runner alone and SIGHUP with its terminal gone. After each, no
process seen in the run's tree (or carrying its mark) is alive, no port they listened on is open, and the next
run carries on from the status file.
"""

from __future__ import annotations

import asyncio
import os
import pty
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest
import yaml

from clickcast.jobs.generate import GeneratorConfig, generate
from clickcast.local.ownership import RUN_ENV, STATE_ENV, StateDirInUseError
from clickcast.local.runner import LocalRunner
from tests.local.watch import Watch, alive, marked, until

pytestmark = pytest.mark.e2e
OFFER = {"date": "2026-02-01", "categoryId": "3", "merchantId": "101", "category": "shoes", "device": "mobile",
         "price": 10.5}  # fmt: skip
STOPPED = "stopped; every process it started is stopped too"


@dataclass
class Run:
    """One `clickcast run` as the leader of its own process group, watched from outside."""

    process: subprocess.Popen[bytes]
    watch: Watch
    out: Path | None = None
    terminal: int | None = None
    """The master side of the run's terminal (a pty), read as it goes: a terminal nobody reads would fill."""
    echo: bytearray = field(default_factory=bytearray)

    def look(self) -> None:
        self.read_terminal()
        self.watch.look()

    def read_terminal(self) -> None:
        if self.terminal is None:
            return
        try:
            while chunk := os.read(self.terminal, 65536):
                self.echo += chunk
        except OSError:  # nothing to read now (BlockingIOError), or nobody writes any more
            return

    def hang_up(self) -> None:
        """Close the terminal, as a closed terminal window does: the run can no longer write to it."""
        assert self.terminal is not None
        os.close(self.terminal)
        self.terminal = None

    def output(self) -> str:
        text = self.out.read_text(errors="replace") if self.out is not None else self.echo.decode(errors="replace")
        return text[-3000:]

    def ended(self, timeout: float = 90) -> int:
        return self.process.wait(timeout)

    def nothing_left(self) -> None:
        assert self.watch.left() == ([], set()), self.output()


@dataclass
class Model:
    file: Path
    state: Path
    port: int
    version: str = ""

    def start(self, *extra: str, terminal: bool = False) -> Run:
        """`clickcast run` in a session of its own, its output in a file or, with `terminal`, on a pty."""
        argv = [sys.executable, "-m", "clickcast", "run", str(self.file), "--state-dir", str(self.state),
                "--port", str(self.port), "--master", "local[2]", *extra]  # fmt: skip
        if terminal:
            master, tty = pty.openpty()
            os.set_blocking(master, False)
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=tty, stderr=tty, start_new_session=True)
            os.close(tty)
            return Run(process, Watch(process.pid, self.state), terminal=master)
        out = self.state.parent / f"run-{time.monotonic_ns()}.out"
        with out.open("wb") as sink:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                                       start_new_session=True)  # fmt: skip
        return Run(process, Watch(process.pid, self.state), out)

    def status(self) -> dict[str, object]:
        return yaml.safe_load((self.state / "offers.yaml").read_text()).get("status") or {}

    def serving(self, run: Run) -> None:
        """Wait until the run's endpoint answers with the shared version."""

        def answers() -> bool:
            try:
                answer = httpx.post(f"http://127.0.0.1:{self.port}/predict", json=OFFER, timeout=5)
            except httpx.HTTPError:
                return False
            return answer.status_code == 200 and answer.json()["modelVersion"] == self.version

        until("prediction", answers, 300, run.read_terminal)
        run.look()


def _resumed(model: Model) -> None:
    """The next run carried on from the status file: the same version serves, never trained again."""
    status = model.status()
    assert status["phase"] == "Serving"
    assert status["stable"]["version"] == model.version  # type: ignore[index]
    assert len(status["history"]) == 1  # type: ignore[arg-type]


def _steady_port() -> int:
    """A free port below the kernel's ephemeral range: no other test is handed it by bind(0) or connect() while
    successive runs take turns on it."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    while True:
        port = random.randrange(low // 2, low)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


@pytest.fixture
def model(tmp_path: Path) -> Model:
    generate(GeneratorConfig(rows=20_000, days=30, seed=3), f"file://{tmp_path}/clicks")
    file = tmp_path / "offers.yaml"
    file.write_text(yaml.safe_dump({
        "apiVersion": "clickcast.io/v1alpha1", "kind": "ClickModel", "metadata": {"name": "offers"},
        "spec": {"data": {"url": f"file://{tmp_path}/clicks"}, "store": {"url": f"file://{tmp_path}/store"},
                 "algorithm": {"name": "glm"}},
    }))  # fmt: skip
    return Model(file, tmp_path / "state", _steady_port())


@pytest.mark.timeout(1800)  # a story of several Spark runs: on a busy 2-core machine, well past the default
def test_run_trains_serves_resumes_and_no_process_outlives_it_whatever_signal_ends_it(model: Model) -> None:
    # SIGINT to the process group (Ctrl-C) while Spark trains: the run, its JVM and workers end.
    run = model.start()
    until("Spark JVM", lambda: run.watch.running("java"), 300, run.look)
    model.version = model.status()["training"]["version"]  # type: ignore[index]
    os.killpg(run.process.pid, signal.SIGINT)
    assert run.ended() == 130, run.output()
    assert STOPPED in run.output()
    run.nothing_left()
    assert model.status()["phase"] == "Training"

    # --once: the same training is started again, finishes, the version serves, and the run ends cleanly.
    run = model.start("--once")
    until("the run to end", lambda: run.process.poll() is not None, 600, run.look)
    assert run.process.returncode == 0, run.output()
    run.nothing_left()
    _resumed(model)

    # Serving on: the stable version answers and validates requests. Then SIGKILL of the runner: no cleanup of
    # its own, yet its processes end (parent-death signal, watchdog).
    run = model.start()
    model.serving(run)
    answer = httpx.post(f"http://127.0.0.1:{model.port}/predict", json=OFFER).json()
    assert answer["predictedClicks"] > 0
    bad = httpx.post(f"http://127.0.0.1:{model.port}/predict", json={**OFFER, "device": "fridge"})
    assert bad.status_code == 422 and any("device" in e["loc"] for e in bad.json()["detail"])
    run.process.kill()
    run.ended()
    until("the killed run's processes to end", lambda: run.watch.left() == ([], set()), 60)
    run.nothing_left()

    # SIGTERM to the process group (systemd, a CI timeout, `kill -- -PGID`), twice as `uv run` forwards it too.
    run = model.start()
    model.serving(run)
    os.killpg(run.process.pid, signal.SIGTERM)
    os.killpg(run.process.pid, signal.SIGTERM)
    assert run.ended() == 143, run.output()
    assert STOPPED in run.output()
    run.nothing_left()
    _resumed(model)

    # SIGTERM to the runner alone.
    run = model.start()
    model.serving(run)
    run.process.terminate()
    assert run.ended() == 143, run.output()
    assert STOPPED in run.output()
    run.nothing_left()

    # SIGHUP with the terminal gone: nothing can be printed any more, the stop still happens (129: checked).
    run = model.start(terminal=True)
    model.serving(run)
    run.hang_up()
    os.killpg(run.process.pid, signal.SIGHUP)
    assert run.ended() == 129
    run.nothing_left()
    _resumed(model)


def _sleeper(state: Path | None, *, child: bool = False) -> subprocess.Popen[bytes]:
    """A process marked as belonging to `state` (None: unmarked); with `child`, it starts one in a session of its
    own (as BentoML's arbiter does its workers), which carries the mark too."""
    code = "import time; time.sleep(300)"
    if child:
        code = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; "
                "time.sleep(300)'], start_new_session=True); time.sleep(300)")  # fmt: skip
    env = {**os.environ, STATE_ENV: str(state.resolve()), RUN_ENV: "killed"} if state is not None else None
    return subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True)


def test_a_new_runner_ends_what_a_killed_run_left_and_only_that(tmp_path: Path) -> None:
    file = tmp_path / "offers.yaml"
    file.write_text(yaml.safe_dump({"apiVersion": "clickcast.io/v1alpha1", "kind": "ClickModel",
                                    "metadata": {"name": "offers"},
                                    "spec": {"data": {"url": f"file://{tmp_path}/clicks"},
                                             "store": {"url": f"file://{tmp_path}/store"}}}))  # fmt: skip
    state, other = tmp_path / "state", tmp_path / "other"
    state.mkdir()
    left = _sleeper(state, child=True)
    strangers = [_sleeper(other), _sleeper(None)]
    until("the left-behind child", lambda: len(marked(state)) == 2, 30)
    left_behind = marked(state)
    notes: list[str] = []

    async def start_twice() -> LocalRunner:
        async with LocalRunner(file, state, port=0, on_notice=notes.append) as runner:
            assert [p for p in left_behind if alive(p)] == []
            with pytest.raises(StateDirInUseError):  # one runner per state directory
                async with LocalRunner(file, state, port=0):
                    pass
        return runner

    try:
        runner = asyncio.run(start_twice())
        assert len(notes) == 1 and all(str(p.pid) in notes[0] for p in left_behind)
        assert all(alive(psutil.Process(p.pid)) for p in strangers)
        assert not runner.leftovers
    finally:
        for process in [left, *strangers]:
            process.kill()
            process.wait()
        for process in left_behind:
            if alive(process):
                process.kill()
