"""Canary releases judged on real clicks, on the real local control plane.

The operator's training and evaluation Jobs run for real (Spark, through the job runner); the serving
pods do not run here (no kubelet), so the test plays the prediction services: after each look it writes
one more day of both versions' predictions to the prediction log, for offer-days whose real clicks are in
the data lake. Promotions are committed to a real local bare Git repository.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clickcast.features.contract import CLICKS, DATE, INPUT_COLUMNS
from clickcast.serving.prediction_log import SCHEMA
from tests.k8s.conftest import GROUP, PLURAL, VERSION, Kube, wait_for
from tests.k8s.operator_harness import (
    JobRunner,
    OperatorProcess,
    clickmodel,
    deployment,
    events,
    events_once,
    manifest,
    wait_for_phase,
)

pytestmark = pytest.mark.k8s
LOOK_DAYS = 4
"""The last days of the data lake: one day of predictions is fed per look."""


def _patch(kube: Kube, namespace: str, spec: dict[str, Any]) -> None:
    kube.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "offers", {"spec": spec})


def _env(kube: Kube, namespace: str, name: str) -> dict[str, str]:
    """The environment of a Deployment's first container (empty while it does not exist)."""
    dep = deployment(kube, namespace, name)
    return {e.name: e.value for e in dep.spec.template.spec.containers[0].env or []} if dep is not None else {}


class Traffic:
    """Plays the stable and candidate services: writes their predictions of one day to the prediction log."""

    def __init__(self, data_url: str, log_dir: Path) -> None:
        lake = pq.read_table(data_url.removeprefix("file://")).to_pandas()
        lake[DATE] = pd.to_datetime(lake[DATE]).dt.strftime("%Y-%m-%d")
        self.days = sorted(lake[DATE].unique())[-LOOK_DAYS:]
        self.lake, self.log_dir, self.fed = lake, log_dir, 0
        self.rows = 0

    def feed(self, stable: str, candidate: str, *, role: str, quality: float) -> None:
        """One more day: stable predicts the real clicks roughly; the candidate `quality` times as far off.

        Shadow (`role` shadow): the same requests (ids) predicted by both; split (`role` canary): other requests.
        """
        day = self.days[self.fed]
        rows = self.lake[self.lake[DATE] == day].reset_index(drop=True)
        rng = np.random.default_rng(self.fed)
        truth = rows[CLICKS].to_numpy(dtype=float)
        stable_pred = (truth + 0.5) * rng.uniform(0.4, 1.6, len(rows))
        candidate_pred = np.maximum(0.05, truth + (stable_pred - truth) * quality)
        # Both calibrated (predicted clicks sum to the real ones): they differ in deviance, not in bias.
        stable_pred *= truth.sum() / stable_pred.sum()
        candidate_pred *= truth.sum() / candidate_pred.sum()
        sides = (
            ("stable", stable, stable_pred, "r"),
            (role, candidate, candidate_pred, "s" if role == "canary" else "r"),
        )
        for who, version, predicted, ids in sides:
            part = rows[list(INPUT_COLUMNS)].assign(
                request_id=[f"{ids}{self.fed}-{i}" for i in range(len(rows))],
                ts=pd.Timestamp.now(tz="UTC").floor("ms"), model="offers", model_version=version, role=who,
                predicted=predicted,
            )  # fmt: skip
            target = self.log_dir / f"date={day}"
            target.mkdir(parents=True, exist_ok=True)
            table = pa.Table.from_pandas(part[list(SCHEMA.names)], schema=SCHEMA, preserve_index=False)
            pq.write_table(table, target / f"part-{who}-{version}.parquet")
        self.fed += 1
        self.rows += len(rows)


def _release(kube: Kube, namespace: str, traffic: Traffic, stable: str, candidate: str, *, role: str, quality: float,
             restart: OperatorProcess | None = None, timeout: float = 600) -> dict[str, Any]:  # fmt: skip
    """Feed a day per look until the canary has a verdict; returns the ClickModel once Serving again."""
    deadline = time.monotonic() + timeout
    if traffic.fed == 0:
        traffic.feed(stable, candidate, role=role, quality=quality)
    while True:
        obj = clickmodel(kube, namespace, "offers")
        status = obj["status"]
        if status["phase"] == "Serving" and (status.get("history") or [{}])[0].get("version") == candidate:
            return obj
        looks = int((status.get("canary") or {}).get("analyses") or 0)
        if looks >= traffic.fed and traffic.fed < LOOK_DAYS and status["phase"] == "Canary":
            if restart is not None and looks == 1:
                # Between looks: once look 1's Event is out (status is written first, then Events; an Event is
                # best-effort and a kill in that gap may lose it), the next operator continues the same test.
                events_once(kube, namespace, "offers", "CanaryAnalysis")
                restart.kill()
                restart.start()
            traffic.feed(stable, candidate, role=role, quality=quality)
        assert time.monotonic() < deadline, f"no decision after {timeout}s: {status}"
        time.sleep(0.5)


@dataclass
class Story:
    """A ClickModel `offers` serving its first version, with its operator, store and Git remote."""

    origin: Path
    store: Path
    op: OperatorProcess
    v1: str
    first_commit: str

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "--git-dir", str(self.origin), *args], check=True, capture_output=True,
                              text=True).stdout  # fmt: skip


@dataclass(frozen=True)
class Lab:
    """A namespace of the test cluster whose Jobs run for real, a data lake of clicks and a directory."""

    kube: Kube
    namespace: str
    clicks: str
    tmp_path: Path


@pytest.fixture
def lab(*, kube: Kube, namespace: str, clicks: str, tmp_path: Path, env: None, jobs: JobRunner) -> Lab:
    return Lab(kube, namespace, clicks, tmp_path)


@contextmanager
def _serving_first_version(lab: Lab, **canary: Any) -> Iterator[Story]:
    """Create `offers` (canary settings `canary`) and wait for its first version; the operator dies at the end."""
    kube, namespace, clicks, tmp_path = lab.kube, lab.namespace, lab.clicks, lab.tmp_path
    origin = tmp_path / "releases.git"
    subprocess.run(["git", "init", "--bare", "-q", "-b", "main", str(origin)], check=True)
    store = tmp_path / "store"
    settings = {"mode": "shadow", "interval": "10s", "minObservations": 1200, "maxDevianceIncrease": 0.1,
                "maxDuration": "30m", **canary}  # fmt: skip
    doc = manifest("offers", clicks, store, **{
        "canary": settings, "algorithm.name": "glm",  # the fastest real training: these tests are about the release
        "promotion.gitops": {"repoUrl": f"file://{origin}", "path": "releases"},
    })  # fmt: skip
    op = OperatorProcess(namespace, tmp_path)
    op.start()
    try:
        kube.create_clickmodel(doc, namespace)
        first = wait_for_phase(kube, namespace, "offers", "Serving", "Failed", timeout=420)["status"]
        assert first["phase"] == "Serving", first
        # The first version is recorded in Git too.
        yield Story(origin, store, op, first["stable"]["version"], first["history"][0]["gitCommit"])
    finally:
        op.kill()
    evaluations = [j.metadata.name for j in kube.batch.list_namespaced_job(namespace).items
                   if j.metadata.labels.get("clickcast.io/run") == "evaluation"]  # fmt: skip
    assert len(evaluations) == len(set(evaluations))  # one Job per look, whatever a restart interrupted
    assert "reconcile failed" not in op.logs()


@pytest.mark.timeout(1200)  # several Spark runs: on a busy 2-core machine, well past the default
def test_a_better_shadow_canary_passes_on_real_clicks_and_is_promoted_through_git(lab: Lab) -> None:
    """Several looks (with an operator restart between them), Pass, a Git commit with the evidence, then
    stable rolls to the candidate."""
    kube, namespace, clicks = lab.kube, lab.namespace, lab.clicks
    with _serving_first_version(lab) as story:
        traffic = Traffic(clicks, story.store / namespace / "predictions" / "offers")  # rooted at the namespace
        _patch(kube, namespace, {"training": {"trigger": "retrain-1"}})
        shadow = wait_for_phase(kube, namespace, "offers", "Canary", timeout=420)["status"]
        v2 = shadow["candidate"]["version"]
        wait_for("the canary to be ready", lambda: clickmodel(kube, namespace, "offers")["status"].get("canary"),
                 timeout=60)  # fmt: skip
        # The status is written before the actions it asks for, so stable's mirror may land just after it.
        shadow_url = wait_for("stable to mirror to the canary", lambda: _env(kube, namespace, "offers-stable")
                              .get("SHADOW_URL"), timeout=60)  # fmt: skip
        assert shadow_url.startswith(f"http://offers-canary.{namespace}.svc")
        promoted = _release(kube, namespace, traffic, story.v1, v2, role="shadow", quality=0.5, restart=story.op)
        entry = promoted["status"]["history"][0]
        assert entry["decision"] == "Promoted", (promoted["status"]["history"][:2], promoted["status"].get("canary"))
        assert (entry["reason"], promoted["status"]["stable"]["version"]) == ("CanaryPassed", v2)
        looks = [e for e in events(kube, namespace, "offers") if e[1] == "CanaryAnalysis"]
        assert len(looks) >= 2, looks
        assert "Pass" in looks[-1][2] and all("Pass" not in m for _, _, m in looks[:-1])
        log = story.git("log", "--format=%H%n%B", "main")
        assert entry["gitCommit"] in log and story.first_commit in log
        assert f"Clickcast-Promotion: {namespace}/offers@{v2}" in log
        evidence = json.loads(story.git("show", f"main:releases/{namespace}/offers/evidence/{v2}.json"))
        assert evidence["canary"]["verdict"] == "Pass"
        # Each look counted only its new day: the pairs are exactly the rows fed, once.
        assert evidence["canary"]["sums"]["pairs"] == traffic.rows
        assert evidence["canary"]["candidateObservations"] == traffic.rows
        wait_for("the canary to be retired", lambda: deployment(kube, namespace, "offers-canary") is None)
        stable_dep = deployment(kube, namespace, "offers-stable")
        assert stable_dep.metadata.labels["clickcast.io/version"] == v2
        assert "SHADOW_URL" not in _env(kube, namespace, "offers-stable")
        assert story.op.starts >= 2


@pytest.mark.timeout(1200)  # several Spark runs: on a busy 2-core machine, well past the default
def test_a_worse_split_canary_steps_its_weight_then_fails_on_real_clicks_and_is_rolled_back(lab: Lab) -> None:
    """The candidate answers a share of requests (its pods join the stable Service); a healthy look without a
    verdict steps the weight; this candidate is worse, fails and is rolled back; stable and Git stay as they were."""
    kube, namespace, clicks = lab.kube, lab.namespace, lab.clicks
    with _serving_first_version(lab, mode="split", steps=[25, 50]) as story:
        traffic = Traffic(clicks, story.store / namespace / "predictions" / "offers")  # rooted at the namespace
        _patch(kube, namespace, {"training": {"trigger": "retrain-1"}})
        v2 = wait_for_phase(kube, namespace, "offers", "Canary", timeout=420)["status"]["candidate"]["version"]
        wait_for("the canary to be ready", lambda: clickmodel(kube, namespace, "offers")["status"].get("canary"),
                 timeout=60)  # fmt: skip
        canary_dep = deployment(kube, namespace, "offers-canary")
        assert canary_dep.spec.replicas == 1  # 25% beside 2 stable replicas
        assert canary_dep.spec.template.metadata.labels["clickcast.io/public"] == "true"
        replicas: list[int] = []

        def stepped() -> bool:
            dep = deployment(kube, namespace, "offers-canary")
            if dep is not None:
                replicas.append(dep.spec.replicas)
            return 2 in replicas or clickmodel(kube, namespace, "offers")["status"]["phase"] != "Canary"

        traffic.feed(story.v1, v2, role="canary", quality=2.5)
        wait_for("the next step", stepped, timeout=300)
        assert 2 in replicas  # 50%: as many canary replicas as stable ones
        rolled = _release(kube, namespace, traffic, story.v1, v2, role="canary", quality=2.5)["status"]
        assert (rolled["history"][0]["decision"], rolled["history"][0]["reason"]) == ("RolledBack", "CanaryFailed")
        assert rolled["stable"]["version"] == story.v1
        weights = [e for e in events(kube, namespace, "offers") if e[1] == "CanaryWeight"]
        assert weights and "50%" in weights[-1][2]
        wait_for("the canary to be retired", lambda: deployment(kube, namespace, "offers-canary") is None)
        assert story.git("rev-parse", "main").strip() == story.first_commit
