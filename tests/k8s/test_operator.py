"""The operator against the real local control plane, with the training Jobs run for real (Spark)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clickcast.jobs.generate import GeneratorConfig, generate
from tests.k8s.conftest import Kube
from tests.k8s.operator_harness import (
    JobRunner,
    clickmodel,
    condition,
    events,
    operator_env,
    running_operator,
    wait_for,
    wait_for_phase,
)

pytestmark = pytest.mark.k8s
DATA = GeneratorConfig(rows=36_000, days=42, seed=11, merchants=300, categories=60)  # as tests/spark: xgboost wins


@pytest.fixture(scope="module")
def clicks(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("clicks")
    generate(DATA, f"file://{out}")
    return f"file://{out}"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in operator_env().items():
        monkeypatch.setenv(key, value)


def manifest(name: str, data_url: str, store: Path, **spec: Any) -> dict[str, Any]:
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


@pytest.fixture
def jobs(kube: Kube, namespace: str) -> Iterator[JobRunner]:
    with JobRunner(kube, namespace) as runner:
        yield runner


def test_apply_trains_validates_and_serves_the_first_version(
    *, kube: Kube, namespace: str, clicks: str, tmp_path: Path, env: None, jobs: JobRunner
) -> None:
    with running_operator(namespace):
        kube.create_clickmodel(manifest("offers", clicks, tmp_path / "store"), namespace)
        training = wait_for_phase(kube, namespace, "offers", "Training", timeout=60)
        job_name = training["status"]["training"]["jobName"]
        job = wait_for("the training Job", lambda: kube.batch.list_namespaced_job(namespace).items, timeout=30)[0]
        assert job.metadata.name == job_name
        assert job.metadata.owner_references[0].kind == "ClickModel"
        container = job.spec.template.spec.containers[0]
        assert container.command == ["spark-submit"]
        assert "--version" in container.args
        assert job.spec.template.spec.containers[0].security_context.read_only_root_filesystem is True

        serving = wait_for_phase(kube, namespace, "offers", "Serving", "Failed", timeout=420)
        status = serving["status"]
        assert status["phase"] == "Serving", status["history"]
        version = status["stable"]["version"]
        assert version == training["status"]["training"]["version"]
        assert condition(serving, "Ready")["status"] == "True"
        assert condition(serving, "Trained")["status"] == "True"
        assert condition(serving, "Validated")["status"] == "True"
        assert status["history"][0]["decision"] == "Promoted"
        assert status["stable"]["metrics"]["poissonDeviance"] > 0
        deployment = kube.apps.read_namespaced_deployment("offers-stable", namespace)
        env_vars = {e.name: e.value for e in deployment.spec.template.spec.containers[0].env}
        assert env_vars["MODEL_URI"] == status["stable"]["uri"]
        assert env_vars["MODEL_SHA256"] == status["stable"]["checksum"]
        assert deployment.spec.strategy.rolling_update.max_unavailable == 0
        reasons = sorted(r for _, r, _ in events(kube, namespace, "offers"))
        # One Event per transition, none repeated by the reconciliations in between.
        assert reasons == sorted(["TrainingStarted", "TrainingSucceeded", "Validated", "PromotionStarted", "Promoted"])
    assert len(kube.batch.list_namespaced_job(namespace).items) == 1
    assert isinstance(jobs.runs[job_name], object)
    assert clickmodel(kube, namespace, "offers")["status"]["observedGeneration"] == 1
