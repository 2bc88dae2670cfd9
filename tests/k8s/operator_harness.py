"""Running the operator in-process (kopf.testing.KopfRunner) and its Jobs for real (the local job runner)."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from kopf.testing import KopfRunner
from kubernetes.client.exceptions import ApiException

from clickcast.devcluster.jobrunner import JobRun, run_job
from tests.k8s.conftest import GROUP, PLURAL, VERSION, Kube, wait_for
from tests.manifests import ROOT


def operator_env(jobs_dir: Path = ROOT / "jobs") -> dict[str, str]:
    """What the in-process operator and the Job pods run locally need: this interpreter's Spark and entry files."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        "CLICKCAST_JOBS_DIR": str(jobs_dir),
        "CLICKCAST_METRICS_PORT": "off",
        "CLICKCAST_WORKERS": "4",
        "CLICKCAST_GIT_SCHEMES": "https,ssh,file",  # the tests' GitOps remotes are local bare repositories
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }


@contextmanager
def running_operator(namespace: str) -> Iterator[KopfRunner]:
    """The operator watching `namespace`, stopped (cleanly) on exit; fails the test if it crashed."""
    args = [
        "run",
        "--standalone",
        "--namespace",
        namespace,
        "--log-format",
        "json",
        "-m",
        "clickcast.operator.handlers",
    ]
    with KopfRunner(args, timeout=120) as runner:
        yield runner
    assert runner.exception is None, runner.output[-4000:]


class JobRunner:
    """Runs every Job of a namespace as it appears (the kubelet's part, done with local processes)."""

    def __init__(self, kube: Kube, namespace: str) -> None:
        self.kube, self.namespace = kube, namespace
        self.runs: dict[str, JobRun | BaseException] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> JobRunner:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                jobs = self.kube.batch.list_namespaced_job(self.namespace).items
            except ApiException:
                jobs = []
            for job in jobs:
                name = job.metadata.name
                if name not in self.runs:
                    self.runs[name] = RuntimeError("running")
                    threading.Thread(target=self._run, args=(name,), daemon=True).start()
            self._stop.wait(0.3)

    def _run(self, name: str) -> None:
        try:
            self.runs[name] = run_job(self.kube.api, self.namespace, name, timeout=600)
        except BaseException as exc:  # reported by the test that waits for it
            self.runs[name] = exc


def clickmodel(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    got: dict[str, Any] = kube.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    return got


def wait_for_phase(kube: Kube, namespace: str, name: str, *phases: str, timeout: float = 300) -> dict[str, Any]:
    """Wait until the ClickModel reaches one of `phases`; the failure message shows where it is instead."""
    last: dict[str, Any] = {}

    def reached() -> bool:
        nonlocal last
        last = clickmodel(kube, namespace, name)
        return (last.get("status") or {}).get("phase") in phases

    deadline = time.monotonic() + timeout
    while not reached():
        if time.monotonic() > deadline:
            status = last.get("status") or {}
            raise AssertionError(f"{name} not in {phases} after {timeout:.0f}s: phase {status.get('phase')}, "
                                 f"conditions {status.get('conditions')}, history {status.get('history')}")  # fmt: skip
        time.sleep(0.3)
    return last


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in obj["status"]["conditions"] if c["type"] == type_)
    return found


def events(kube: Kube, namespace: str, name: str) -> list[tuple[str, str, str]]:
    items = kube.core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}").items
    return [(e.type, e.reason, e.message) for e in sorted(items, key=lambda e: e.metadata.creation_timestamp)]


def events_once(kube: Kube, namespace: str, name: str, reason: str, timeout: float = 30) -> list[tuple[str, str, str]]:
    """The Events once one with `reason` is out: status is written before a step's Events, so a test that saw
    the status must still wait for them."""
    return wait_for(f"a {reason} Event", lambda: (found := events(kube, namespace, name)) and any(
        r == reason for _, r, _ in found) and found, timeout=timeout)  # fmt: skip


class OperatorProcess:
    """`clickcast operator` as a separate process, so a test can SIGKILL it at any point and start another."""

    def __init__(
        self,
        namespace: str,
        log_dir: Path,
        kubeconfig: Path | None = None,
        ports: tuple[int, int] = (0, 0),
        extra: list[str] | None = None,
    ) -> None:
        self.namespace, self.log_dir, self.kubeconfig, self.extra = namespace, log_dir, kubeconfig, extra or []
        self.liveness_port, self.metrics_port = ports
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.log_dir / f"operator-{self.starts}.log").open("wb")
        cmd = [str(Path(sys.executable).parent / "clickcast"), "operator", "--namespace", self.namespace,
               "--metrics-port", str(self.metrics_port), "--liveness-port", str(self.liveness_port),
               "--workers", "2", *self.extra]  # fmt: skip
        env = {**os.environ, **({"KUBECONFIG": str(self.kubeconfig)} if self.kubeconfig else {})}
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no final status write, exactly like a node failure."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("operator-*.log")))

    def messages(self) -> list[str]:
        """The `message` field of each JSON log line, in order (lines that are not JSON records are skipped)."""
        found = []
        for line in self.logs().splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and isinstance(record.get("message"), str):
                    found.append(record["message"])
        return found

    def paused(self) -> bool | None:
        """Whether kopf's peering last paused (True) or resumed (False) this operator; None: neither yet.

        With peering on, kopf starts paused and logs neither until a peer check changes that.
        """
        for message in reversed(self.messages()):
            if message.startswith("Pausing operations"):
                return True
            if message.startswith("Resuming operations"):
                return False
        return None


def service_account_kubeconfig(kube: Kube, namespace: str, account: str, path: Path) -> Path:
    """A kubeconfig authenticating as a ServiceAccount (a TokenRequest token), for a process to run as it."""
    token = kube.core.create_namespaced_service_account_token(
        account, namespace, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    admin = yaml.safe_load(kube.kubeconfig.read_text())
    cluster = admin["clusters"][0]
    context = {"cluster": cluster["name"], "user": account, "namespace": namespace}
    doc = {
        "apiVersion": "v1", "kind": "Config", "clusters": [cluster],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": account, "context": context}],
        "current-context": account,
    }  # fmt: skip
    path.write_text(yaml.safe_dump(doc))
    return path


def manifest(name: str, data_url: str, store: Path, **spec: Any) -> dict[str, Any]:
    """A small ClickModel for the operator tests, with dotted-path overrides."""
    base: dict[str, Any] = {
        "data": {"url": data_url, "window": {"trainDays": 35, "testDays": 7}},
        "store": {"url": f"file://{store}"},
        "features": {"minCategoryCount": 3},
        "algorithm": {"xgboost": {"numRounds": 80}},
        "training": {"master": "local[2]", "driver": {"cpu": "1", "memory": "1Gi"}},
        "serving": {"replicas": 2},
    }
    for dotted, value in spec.items():
        *parents, leaf = dotted.split(".")
        node = base
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = copy.deepcopy(value)
    return {"apiVersion": "clickcast.io/v1alpha1", "kind": "ClickModel", "metadata": {"name": name}, "spec": base}


def deployment(kube: Kube, namespace: str, name: str) -> Any:
    """The Deployment `name`, or None when it does not exist."""
    try:
        return kube.apps.read_namespaced_deployment(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
