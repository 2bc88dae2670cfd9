"""The same jobs against a real Spark standalone cluster (a master and two workers on loopback).

Local mode shares one JVM and one filesystem view with the driver; a cluster
catches driver-only files, closures over driver state and non-serialisable objects.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pyspark
import pytest

from clickcast.model.artifact import load_predictor

pytestmark = pytest.mark.spark

SPARK_HOME = Path(pyspark.__file__).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(predicate: object, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    env = {
        **os.environ,
        "SPARK_HOME": str(SPARK_HOME),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_WORKER_DIR": str(tmp_path / "work"),
        "PYSPARK_PYTHON": sys.executable,
    }
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    port = _free_port()
    url = f"spark://127.0.0.1:{port}"
    logs = tmp_path / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen[bytes]] = []

    def launch(label: str, *args: str) -> subprocess.Popen[bytes]:
        out = (logs / f"{label}.log").open("wb")
        proc = subprocess.Popen([spark_class, *args], env=env, stdout=out, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    try:
        launch("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
               "--webui-port", str(_free_port()))  # fmt: skip
        _wait_for(lambda: "I have been elected leader" in (logs / "master.log").read_text(errors="ignore"), "master")
        for i in range(2):
            launch(f"worker{i}", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "1",
                   "--memory", "1g", "--webui-port", str(_free_port()), url)  # fmt: skip
        for i in range(2):
            log = logs / f"worker{i}.log"
            _wait_for(lambda log=log: "Successfully registered with master" in log.read_text(errors="ignore"), "worker")
        yield url
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.timeout(1800)  # a story of several Spark runs: on a busy 2-core machine, well past the default
def test_train_and_score_on_a_standalone_cluster(cluster: str, dataset: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"  # the "shared path": every executor sees it
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    common = ["--master", cluster]
    manifest = tmp_path / "offers.yaml"
    manifest.write_text(
        "apiVersion: clickcast.io/v1alpha1\nkind: ClickModel\nmetadata: {name: offers}\n"
        f"spec:\n  data: {{url: 'file://{dataset}', window: {{trainDays: 42, testDays: 7}}}}\n"
        f"  store: {{url: 'file://{store}'}}\n  algorithm: {{xgboost: {{numRounds: 30}}}}\n"
    )
    train = subprocess.run(
        [sys.executable, "-m", "clickcast.cli.main", "train", "--model-file", str(manifest),
         "--output", str(tmp_path / "out.json"), *common],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr[-3000:]
    assert "version v" in train.stdout and "poisson_deviance" in train.stdout
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["badRows"]["total"] == 0
    predictor = load_predictor(result["uri"], result["checksum"])
    score = subprocess.run(
        [sys.executable, "-m", "clickcast.cli.main", "score", "--model", result["uri"], "--data", f"file://{dataset}",
         "--out", f"file://{tmp_path}/scored", *common],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert score.returncode == 0, score.stderr[-3000:]
    scored = pq.read_table(tmp_path / "scored").to_pandas()
    assert len(scored) == 36_000
    assert set(scored["model_version"]) == {predictor.version_id}
