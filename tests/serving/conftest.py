"""Fixtures for the serving tests: a published model and `clickcast serve` processes on loopback."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.serving.model import publish_model

CLICKCAST = str(Path(sys.executable).with_name("clickcast"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """One `clickcast serve` process: BentoML's arbiter, which starts the workers."""

    def __init__(self, model_uri: str, workdir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"serve-{self.port}.log"
        env = {**os.environ, "BENTOML_HOME": str(workdir / "bentoml"), "BENTOML_DO_NOT_TRACK": "True", **(env or {})}
        cmd = [CLICKCAST, "serve", "--model", model_uri, "--port", str(self.port), *args]
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_live(self, timeout: float = 180) -> None:  # a wait, not a target: BentoML starts slowly on a busy machine
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}:\n{self.output}")
            try:
                if httpx.get(f"{self.url}/livez", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"serve not live after {timeout}s:\n{self.output}")

    def wait_ready(self, timeout: float = 180) -> None:
        self.wait_live(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                return
            time.sleep(0.2)
        raise AssertionError(f"serve not ready after {timeout}s:\n{self.output}")

    def terminate(self, timeout: float = 40) -> int:
        """SIGTERM (as Kubernetes sends it) and wait; kill the group if it does not exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"serve ignored SIGTERM for {timeout}s:\n{self.output}") from None
        return self.proc.returncode

    def kill(self) -> None:
        """Stop the arbiter and its workers. BentoML starts each worker in its own session, so a signal
        to the process group would orphan them: stop gracefully, then kill every descendant by pid."""
        if self.proc.poll() is not None:
            return
        family = psutil.Process(self.proc.pid).children(recursive=True)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        for child in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store")


@pytest.fixture(scope="session")
def model_uri(store: Path) -> str:
    return publish_model(f"file://{store}", version="v1", seed=0)


@pytest.fixture(scope="session")
def candidate_uri(store: Path) -> str:
    return publish_model(f"file://{store}", version="v2", seed=7)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[type[Served]]:
    """Start served processes with `serve(model_uri, tmp_path, *args)`; all are stopped at the end."""
    started: list[Served] = []

    class Tracked(Served):
        def __init__(self, model_uri: str, workdir: Path, *args: str, env: dict[str, str] | None = None) -> None:
            super().__init__(model_uri, workdir, *args, env=env)
            started.append(self)

    yield Tracked
    for served in started:
        served.kill()


@pytest.fixture(scope="module")
def stable(tmp_path_factory: pytest.TempPathFactory, model_uri: str) -> Iterator[Served]:
    """One ready stable service shared by a module's read-only tests (its log goes to a private dir)."""
    workdir = tmp_path_factory.mktemp("stable")
    served = Served(model_uri, workdir, "--prediction-log", f"file://{workdir}/log")
    try:
        served.wait_ready()
        yield served
    finally:
        served.kill()
        shutil.rmtree(workdir / "bentoml", ignore_errors=True)
