"""Operator benchmark: apply-to-Job latency, 200 ClickModels at once, and the operator's peak RSS.

    pytest -m bench -s bench/test_operator_bench.py

Runs `clickcast operator` as its own process against the local control plane (the session `kube`
fixture) and measures from the test process, which applies ClickModels and watches for their
training Jobs. Nothing runs the Jobs: this measures the operator, not Spark.
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import psutil
import pytest
from tests.k8s.conftest import Kube
from tests.k8s.operator_harness import OperatorProcess, operator_env

pytestmark = pytest.mark.bench


def clickmodel(name: str) -> dict[str, object]:
    return {"apiVersion": "clickcast.io/v1alpha1", "kind": "ClickModel", "metadata": {"name": name},
            "spec": {"data": {"url": "file:///var/lib/clickcast/data/clicks"},
                     "store": {"url": "file:///var/lib/clickcast/store"}}}  # fmt: skip


def job_times(kube: Kube, namespace: str, names: set[str], timeout: float) -> dict[str, float]:
    """When each ClickModel's training Job first appeared (monotonic clock), by polling the Job list."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < len(names) and time.monotonic() < deadline:
        for job in kube.batch.list_namespaced_job(namespace).items:
            model = job.metadata.labels.get("clickcast.io/model")
            if model in names and model not in seen:
                seen[model] = time.monotonic()
        time.sleep(0.05)
    return seen


def test_operator_latency_throughput_and_memory(
    kube: Kube,
    namespace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in operator_env().items():
        monkeypatch.setenv(key, value)
    op = OperatorProcess(namespace, tmp_path)
    op.start()
    assert op.proc is not None
    peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        proc = psutil.Process(op.proc.pid)  # type: ignore[union-attr]
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss / 2**20)
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        time.sleep(3)  # startup
        latencies = []
        for i in range(30):
            name = f"single-{i}"
            start = time.monotonic()
            kube.custom.create_namespaced_custom_object("clickcast.io", "v1alpha1", namespace, "clickmodels",
                                                        clickmodel(name))  # fmt: skip
            seen = job_times(kube, namespace, {name}, timeout=30)
            latencies.append(seen[name] - start)
        burst = {f"burst-{i}" for i in range(200)}
        start = time.monotonic()
        for name in sorted(burst):
            kube.custom.create_namespaced_custom_object("clickcast.io", "v1alpha1", namespace, "clickmodels",
                                                        clickmodel(name))  # fmt: skip
        applied = time.monotonic() - start
        seen = job_times(kube, namespace, burst, timeout=180)
        all_jobs = max(seen.values()) - start if len(seen) == len(burst) else float("inf")
    finally:
        stop.set()
        op.kill()
    q = statistics.quantiles(latencies, n=20)
    print("\noperator benchmark (local control plane, 2 cores shared with the API server):")
    print(
        f"  apply -> Job created, one at a time (n={len(latencies)}): p50 {statistics.median(latencies) * 1000:.0f} ms,"
        f" p95 {q[18] * 1000:.0f} ms (target p50 < 1 s)"
    )
    print(
        f"  200 ClickModels applied at once ({applied:.1f} s to apply): all have a Job after {all_jobs:.1f} s "
        f"({len(seen)}/200) (target 60 s)"
    )
    print(f"  operator peak RSS {peak[0]:.0f} MB (target 200 MB)")
    assert len(seen) == len(burst)
