"""`clickcast run`: the lifecycle core with local processes, stopped with Ctrl-C and resumed from its status file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from clickcast.jobs.generate import GeneratorConfig, generate
from clickcast.local.frontend import free_port

pytestmark = pytest.mark.e2e
OFFER = {"date": "2026-02-01", "categoryId": "3", "merchantId": "101", "category": "shoes", "device": "mobile",
         "price": 10.5}  # fmt: skip


def _ours(root: Path) -> list[str]:
    """Command lines of live processes that mention `root` (runs, serving processes): none may outlive the run."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(root) in cmdline and int(pid) != os.getpid():
            found.append(f"{pid}: {cmdline[:200]}")
    return found


def _status(state: Path) -> dict[str, object]:
    doc = yaml.safe_load((state / "offers.yaml").read_text())
    return doc.get("status") or {}


def _wait(what: str, check: object, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"no {what} after {timeout}s"
        time.sleep(0.3)


def _run(model: Path, state: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "clickcast", "run", str(model), "--state-dir", str(state), "--port", str(port),
            "--master", "local[2]", *extra]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_run_trains_serves_stops_cleanly_and_resumes(tmp_path: Path) -> None:
    generate(GeneratorConfig(rows=20_000, days=30, seed=3), f"file://{tmp_path}/clicks")
    model = tmp_path / "offers.yaml"
    model.write_text(yaml.safe_dump({
        "apiVersion": "clickcast.io/v1alpha1", "kind": "ClickModel", "metadata": {"name": "offers"},
        "spec": {"data": {"url": f"file://{tmp_path}/clicks"}, "store": {"url": f"file://{tmp_path}/store"},
                 "algorithm": {"name": "glm"}},
    }))  # fmt: skip
    state, port = tmp_path / "state", free_port()

    # Ctrl-C during the first training: the run and every process stop; the status keeps the intent.
    first = _run(model, state, port)
    _wait("training run", lambda: any((state / "runs").glob("*/log")) if (state / "runs").exists() else False)
    version = _status(state)["training"]["version"]  # type: ignore[index]
    first.send_signal(signal.SIGINT)
    out, _ = first.communicate(timeout=60)
    assert first.returncode == 130, out
    assert "stopped" in out
    assert _ours(tmp_path) == []
    assert _status(state)["phase"] == "Training"

    # Started again: the same training (same version, same run name) is carried out, and the version serves.
    second = _run(model, state, port, "--once")
    out, _ = second.communicate(timeout=600)
    assert second.returncode == 0, out
    status = _status(state)
    assert status["phase"] == "Serving", out
    assert status["stable"]["version"] == version  # type: ignore[index]
    assert [h["decision"] for h in status["history"]] == ["Promoted"]  # type: ignore[union-attr]
    assert _ours(tmp_path) == []

    # Serving on (no --once): the stable version answers on the endpoint until SIGTERM, which stops everything.
    third = _run(model, state, port)
    try:

        def answers() -> bool:
            try:
                return httpx.post(f"http://127.0.0.1:{port}/predict", json=OFFER, timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        _wait("prediction", answers, timeout=120)
        answer = httpx.post(f"http://127.0.0.1:{port}/predict", json=OFFER).json()
        assert answer["modelVersion"] == version and answer["predictedClicks"] > 0
        bad = httpx.post(f"http://127.0.0.1:{port}/predict", json={**OFFER, "device": "fridge"})
        assert bad.status_code == 422 and "device" in bad.text
    finally:
        third.send_signal(signal.SIGTERM)
        out, _ = third.communicate(timeout=60)
    assert _ours(tmp_path) == [], out
    assert len(_status(state)["history"]) == 1  # type: ignore[arg-type]  # restarting repaired, never retrained
