"""One real Kubernetes control plane per test session.

`kube` starts a fresh kwok cluster (binary runtime, RBAC on) under a unique
name from the locally built binaries, or uses the cluster that
CLICKCAST_TEST_KUBECONFIG points at (e.g. kind, on a machine with Docker);
installs the project's CRDs; yields clients; and tears it all down. It also
exports KUBECONFIG for the session so that kopf.testing.KopfRunner and
kubectl talk to the same cluster.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock
import pytest
import yaml
from kubernetes import client, config, utils
from kubernetes.client.exceptions import ApiException
from kubernetes.config import kube_config

from clickcast.devcluster import binaries, kwok
from clickcast.jobs.generate import GeneratorConfig, generate
from tests.manifests import ROOT

TEST_KUBECONFIG_ENV = "CLICKCAST_TEST_KUBECONFIG"
CRDS = sorted((ROOT / "manifests" / "crds").glob("*.yaml"))
GROUP, VERSION, PLURAL = "clickcast.io", "v1alpha1", "clickmodels"


@dataclass(frozen=True)
class Kube:
    kubeconfig: Path
    api: client.ApiClient
    name: str | None  # the kwok cluster's name; None for a CLICKCAST_TEST_KUBECONFIG cluster

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def create(self, doc: dict[str, Any], namespace: str = "default") -> None:
        utils.create_from_dict(self.api, doc, namespace=namespace)

    def create_clickmodel(self, doc: dict[str, Any], namespace: str) -> dict[str, Any]:
        doc = {**doc, "metadata": {**doc["metadata"], "namespace": namespace}}
        # Strict: unknown fields are errors, as with kubectl (whose default is Strict too).
        created: dict[str, Any] = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, doc, field_validation="Strict"
        )
        return created


def wait_for(what: str, check: Any, timeout: float = 60.0, poll: float = 0.2) -> Any:
    """Poll `check()` until it returns something truthy; fail the test with `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(poll)


def install_crds(kube: Kube) -> list[str]:
    ext = client.ApiextensionsV1Api(kube.api)
    installed = []
    for path in CRDS:
        doc = yaml.safe_load(path.read_text())
        name = doc["metadata"]["name"]
        try:
            ext.create_custom_resource_definition(doc)
            installed.append(name)
        except ApiException as exc:
            if exc.status != 409:
                raise
            current = ext.read_custom_resource_definition(name).metadata.resource_version
            doc["metadata"]["resourceVersion"] = current
            ext.replace_custom_resource_definition(name, doc)

        def established(name: str = name) -> bool:
            conds = ext.read_custom_resource_definition(name).status.conditions or []
            return any(c.type == "Established" and c.status == "True" for c in conds)

        wait_for(f"CRD {name} to be established", established, timeout=30)
    return installed


@contextlib.contextmanager
def one_start_at_a_time(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Parallel workers start their clusters one after another: kwokctl picks free ports for a cluster's
    components before it starts them, and two clusters picking at once could pick the same port."""
    with filelock.FileLock(tmp_path_factory.getbasetemp().parent / "cluster-start.lock"):
        yield


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    existing = os.environ.get(TEST_KUBECONFIG_ENV)
    name = None
    if existing:
        kubeconfig = Path(existing)
    else:
        bin_dir = binaries.locate()
        name = f"cc-test-{os.getpid()}-{secrets.token_hex(3)}"
        try:
            with one_start_at_a_time(tmp_path_factory):
                kubeconfig = kwok.up(name, bin_dir, nodes=3, say=lambda _: None)
        except BaseException:
            kwok.down(name, bin_dir, say=lambda _: None)  # nodes or readiness failed after the create
            raise
    saved = os.environ.get("KUBECONFIG"), kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    try:
        # The client library reads $KUBECONFIG once, at import; kopf's login calls load_kube_config()
        # with that default, so point both at this cluster.
        os.environ["KUBECONFIG"] = kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(kubeconfig)
        k = Kube(kubeconfig, config.new_client_from_config(str(kubeconfig)), name)
        installed = install_crds(k)
        yield k
        if existing:  # a cluster we do not own: remove only what we added
            for crd in installed:
                client.ApiextensionsV1Api(k.api).delete_custom_resource_definition(crd)
    finally:
        if saved[0] is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = saved[0]
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = saved[1]
        if name is not None:
            kwok.down(name, bin_dir, say=lambda _: None)


@pytest.fixture
def namespace(kube: Kube) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards (without waiting)."""
    ns = f"t-{secrets.token_hex(4)}"
    kube.core.create_namespace({"metadata": {"name": ns}})
    # The ServiceAccount admission plugin refuses pods until the namespace's default SA exists.
    wait_for("the default ServiceAccount", lambda: kube.core.list_namespaced_service_account(ns).items, timeout=30)
    yield ns
    kube.core.delete_namespace(ns)


OPERATOR_DATA = GeneratorConfig(rows=36_000, days=42, seed=11, merchants=300, categories=60)
"""The operator tests' data lake (as tests/spark: xgboost beats the GLM baseline on it)."""


@pytest.fixture(scope="module")
def clicks(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("clicks")
    generate(OPERATOR_DATA, f"file://{out}")
    return f"file://{out}"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the operator and its locally run Job pods need (this interpreter's Spark, the jobs/ entry files)."""
    from tests.k8s.operator_harness import operator_env

    for key, value in operator_env().items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def jobs(kube: Kube, namespace: str) -> Iterator[Any]:
    """Every Job of the test's namespace run as it appears (tests.k8s.operator_harness.JobRunner)."""
    from tests.k8s.operator_harness import JobRunner

    with JobRunner(kube, namespace) as runner:
        yield runner


@pytest.fixture(scope="session")
def workload_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    """A second cluster, started as a user does (`clickcast dev cluster up`): its pods run for real.

    Its KWOK stages leave pod status to the workload runner that `up` starts beside it, so a pod is
    Running, Ready and at its address only because a local process does and answers. `down` at the end.
    """
    if os.environ.get(TEST_KUBECONFIG_ENV):
        pytest.skip("the workload runner plays the kubelet of a kwok cluster; this session uses another cluster")
    name = f"cc-wl-{os.getpid()}-{secrets.token_hex(3)}"
    cli = [sys.executable, "-m", "clickcast.cli.main", "dev", "cluster"]
    # On a cold machine the control plane is still being built (make test builds it beside the first tests):
    # wait for that build here, so the timeout below is the cluster's start alone.
    binaries.locate()
    with one_start_at_a_time(tmp_path_factory):
        up = subprocess.run([*cli, "up", "--name", name], capture_output=True, text=True, timeout=600, check=False)
    try:
        assert up.returncode == 0, up.stderr
        kubeconfig = Path(up.stdout.strip().splitlines()[-1])
        yield Kube(kubeconfig, config.new_client_from_config(str(kubeconfig)), name)
    finally:
        down = subprocess.run([*cli, "down", "--name", name], capture_output=True, text=True, timeout=300, check=False)
        assert down.returncode == 0, down.stderr
