"""A hanging canary costs stable no failed request and no more memory than the mirror's byte budget (issue 19).

The canary here accepts connections, reads the copies and never answers: the worst a shadow can do (a dead one
refuses at once, see test_lifecycle). Two stable services take the same load of batches, one mirroring to it,
one not; the mirroring one must answer every request, drop the copies over its byte budget (and say so), and
grow by at most that budget more than the other. Each service's p99 latency is printed; it is a figure to read,
not a bound to assert on a shared 2-core machine (bench/test_serving_bench.py measures latency on an idle one).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest

from tests.serving.conftest import Served
from tests.serving.test_http import offers

MiB = 1024 * 1024
BUDGET = 4 * MiB
"""The mirroring service's SHADOW_QUEUE_BYTES: small, so that the load below is many times over it."""
SLACK = 24 * MiB
"""Allowed beyond the budget: allocator noise between two processes serving the same load."""
REQUESTS = 2000
BATCH = 400
"""Offers per request: about 50 KB of JSON, so the load mirrors about 100 MB: held without a bound, it would show."""


@contextmanager
def hanging_listener() -> Iterator[str]:
    """A canary that takes every connection and every byte sent, and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def drain(conn: socket.socket) -> None:
        with conn:
            while not stop.is_set() and conn.recv(65536):
                pass

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            held.append(conn)
            threading.Thread(target=drain, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()


def rss(served: Served) -> int:
    """Resident memory of the service: BentoML's arbiter and its workers."""
    root = psutil.Process(served.proc.pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])


def load(served: Served, body: dict[str, object]) -> tuple[int, list[float], int]:
    """REQUESTS batches; returns how many failed, each latency, and the growth of the service's memory."""
    failed, latencies = 0, []
    with httpx.Client(base_url=served.url, timeout=30) as client:
        for _ in range(10):  # warm: allocator pools, the model's first calls
            client.post("/predict/batch", json=body)
        before = rss(served)
        for _ in range(REQUESTS):
            started = time.perf_counter()
            failed += client.post("/predict/batch", json=body).status_code != 200
            latencies.append(time.perf_counter() - started)
    return failed, latencies, rss(served) - before


def metric(served: Served, name: str) -> float:
    text = httpx.get(f"{served.url}/metrics", timeout=10).text
    match = re.search(rf"^{re.escape(name)} ([\d.e+]+)$", text, re.M)
    return float(match[1]) if match else 0.0


@pytest.mark.timeout(600)
def test_a_hanging_canary_costs_stable_no_failed_request_and_at_most_its_byte_budget_of_memory(
    serve: type[Served], model_uri: str, tmp_path: Path
) -> None:
    body = {"offers": offers(BATCH, seed=5)}
    with hanging_listener() as canary:
        plain = serve(model_uri, tmp_path, "--prediction-log", "off")
        mirroring = serve(model_uri, tmp_path, "--prediction-log", "off", "--shadow", canary,
                          env={"SHADOW_QUEUE_BYTES": str(BUDGET)})  # fmt: skip
        plain.wait_ready()
        mirroring.wait_ready()
        figures = {name: load(s, body) for name, s in (("plain", plain), ("mirroring", mirroring))}
        dropped = metric(mirroring, 'clickcast_shadow_mirror_dropped_total{reason="byte_budget"}')
        held = metric(mirroring, "clickcast_shadow_mirror_queued_bytes")
    for name, (failed, latencies, growth) in figures.items():
        print(f"{name}: {failed} failed, p99 {np.percentile(latencies, 99) * 1000:.1f} ms, "
              f"p50 {np.percentile(latencies, 50) * 1000:.1f} ms, memory +{growth / MiB:.1f} MiB")  # fmt: skip
    print(f"mirroring: {dropped:.0f} copies dropped over the byte budget, {held / MiB:.1f} MiB held at the end")
    assert figures["plain"][0] == 0 and figures["mirroring"][0] == 0
    assert dropped > 0  # the load was over the budget: copies were dropped, not queued without end
    assert held <= BUDGET
    assert figures["mirroring"][2] - figures["plain"][2] <= BUDGET + SLACK, figures
