"""Serving benchmark: the in-process model (floor), a minimal Starlette app (peer) and clickcast (BentoML).

    pytest -m bench -s bench/test_serving_bench.py      (needs `wrk`: apt-get install wrk)

All three serve the same xgboost model (one xgboost thread) on loopback in one
run, one worker each, loaded by wrk (1 thread, 16 connections) for single
offers and (1 thread, 4 connections) for 1,000-offer batches. The peer and
clickcast are measured in alternating rounds (BENCH_ROUNDS, default 5) and
the median of each figure is reported, because the machine is shared.
clickcast runs as shipped: prediction log on, metrics on, adaptive batching on;
"clickcast app, uvicorn" is the same prediction app without BentoML (the residual cost of BentoML).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from tests.serving.conftest import Served, free_port
from tests.serving.model import publish_model, synthetic_rows
from tests.serving.test_http import OFFER

from clickcast.model.artifact import load_predictor

pytestmark = pytest.mark.bench

DURATION = os.environ.get("BENCH_DURATION", "6s")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
BATCH = 1000


def _rows(n: int) -> list[dict[str, object]]:
    """Offers of one day, like a batch scoring tomorrow's offers (the prediction log writes one file per day)."""
    cols = synthetic_rows(n, seed=1)
    cols["date"] = ["2026-01-05"] * n
    return [{k: cols[k][i] for k in cols} for i in range(n)]


def wrk(url: str, body: bytes, connections: int, workdir: Path) -> dict[str, float]:
    """req/s, p50 and p99 latency (ms) of POSTing `body` to `url`."""
    (workdir / "body.json").write_bytes(body)
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{workdir / "body.json"}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
    )
    subprocess.run(["wrk", "-t1", "-c4", "-d2s", "-s", str(script), url], check=True, capture_output=True)  # warm up
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{DURATION}", "--latency", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        return float(m[1]) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m[2]]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rps, out
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", out)
    assert errors is None, out
    return {"rps": float(rps[1]), "p50": ms("50"), "p99": ms("99")}


def floor(model_uri: str) -> dict[str, float]:
    """The raw model in-process: one offer per call, and 1,000-offer batches."""
    predictor = load_predictor(model_uri)
    predictor.model.set_threads(1)
    one = {k: [v] for k, v in OFFER.items()}
    times = []
    for _ in range(3000):
        t = time.perf_counter()
        predictor.predict(one)
        times.append(time.perf_counter() - t)
    rows = _rows(BATCH)
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    t = time.perf_counter()
    for _ in range(50):
        predictor.predict(cols)
    batch_rate = 50 * BATCH / (time.perf_counter() - t)
    lat = np.asarray(times) * 1e3
    return {
        "rps": 1e3 / lat.mean(),
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "batch": batch_rate,
    }


def uvicorn(app: str, env: dict[str, str], *args: str) -> Iterator[str]:
    """Serve an ASGI app with plain uvicorn (one worker, uvloop and httptools as BentoML's workers use)."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen([*cmd, *args], env={**os.environ, **env}, cwd=Path(__file__).parent.parent)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.post(f"{url}/predict", json=OFFER, timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.fixture
def peer(model_uri: str) -> Iterator[str]:
    yield from uvicorn("bench.peer_app:app", {"MODEL_URI": model_uri})


@pytest.fixture
def bare(model_uri: str, tmp_path: Path) -> Iterator[str]:
    """The clickcast prediction app without BentoML: what BentoML still costs is the difference."""
    env = {"MODEL_URI": model_uri, "PREDICTION_LOG_URL": f"file://{tmp_path}/bare-log"}
    yield from uvicorn("clickcast.serving.app:create_app", env, "--factory")


@pytest.fixture(scope="session")
def model_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return publish_model(f"file://{tmp_path_factory.mktemp('store')}", version="v1")


def test_serving_benchmark(model_uri: str, peer: str, bare: str, tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (apt-get install wrk)")
    served = Served(model_uri, tmp_path, "--prediction-log", f"file://{tmp_path}/log")
    try:
        served.wait_ready()
        single = json.dumps(OFFER).encode()
        batch = json.dumps({"offers": _rows(BATCH)}).encode()
        results = {"floor (in-process)": floor(model_uri)}
        targets = {"peer (Starlette)": peer, "clickcast app, uvicorn": bare, "clickcast (BentoML)": served.url}
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for _ in range(ROUNDS):
            for name, url in targets.items():
                run = wrk(f"{url}/predict", single, CONNECTIONS, tmp_path)
                run["batch"] = wrk(f"{url}/predict/batch", batch, 4, tmp_path)["rps"] * BATCH
                runs[name].append(run)
        for name, rounds in runs.items():
            results[name] = {k: float(np.median([r[k] for r in rounds])) for k in rounds[0]}
    finally:
        served.terminate()
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(
        f"\nsingle offer: wrk -t1 -c{CONNECTIONS} -d{DURATION}; batch: {BATCH} offers per request, wrk -t1 -c4; "
        f"median of {ROUNDS} alternating rounds; load average at the end {load} on {os.cpu_count()} cores"
    )
    print(f"{'':24} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'batch offers/s':>15}")
    for name, r in results.items():
        print(f"{name:24} {r['rps']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} {r['batch']:15.0f}")
    ours, theirs = results["clickcast (BentoML)"], results["peer (Starlette)"]
    print(
        f"clickcast/peer: throughput {ours['rps'] / theirs['rps']:.2f}x (target >= 0.8), "
        f"p99 {ours['p99'] / theirs['p99']:.2f}x (target <= 2), batch {ours['batch']:.0f} offers/s (target >= 100000)"
    )
