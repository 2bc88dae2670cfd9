"""`RUNTIME=containers make cluster-demo`: the product as a cluster runs it, on a cluster of its own.

`make images` builds the three images (podman, layers cached between runs); the workload runner runs every
pod as a container from them (podman + runc), so each pod has only its image's files, its non-root user, a
read-only root filesystem and its Secrets and emptyDirs as mounts; MinIO holds the lake and the model store
(s3://), its credentials only in Secrets: the ClickModel's storageOptionsSecret and the operator's own
(chart value operator.storeCredentialsSecret). The story: helm install and helm test, the first version
trained by a Job's Spark and served, the moved market, a retrain, a shadow canary judged on real clicks and
promoted through Git (a local smart-HTTP server; its credentials only in the ClickModel's GitOps Secret), a
prediction from a stable pod.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import s3fs
from kubernetes import client, config

from clickcast.devcluster import binaries, objectstore, workloads
from clickcast.store import credentials
from tests.manifests import ROOT

pytestmark = [pytest.mark.k8s, pytest.mark.e2e]
CLI = [sys.executable, "-m", "clickcast.cli.main", "dev"]


@pytest.fixture(scope="module")
def built() -> None:
    """The control plane and the three images (`make images`), built once.

    `make test` starts both builds beside the first tests; this waits for them (each script holds a lock), so
    that the test's own time is the story's (the script is told the images are built).
    """
    binaries.locate()
    done = subprocess.run(["bash", str(ROOT / "hack" / "build-images.sh")], capture_output=True, text=True,
                          timeout=2400, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.timeout(3000)  # with `built` (the timeout covers fixtures): cold, the tool builds come first
def test_the_cluster_demo_runs_every_pod_as_a_container_of_the_built_images_on_minio(
    tmp_path: Path, built: None
) -> None:
    name = f"cc-ct-{os.getpid()}-{secrets.token_hex(3)}"
    env = os.environ | {"CLICKCAST_CLUSTER": name, "DEMO_DIR": str(tmp_path), "RUNTIME": "containers",
                        "IMAGES_BUILT": "1"}  # fmt: skip
    try:
        done = subprocess.run(["bash", str(ROOT / "hack" / "cluster-demo.sh")], env=env, capture_output=True,
                              text=True, timeout=1200, check=False)  # fmt: skip
        log = (tmp_path / "cluster-demo.log").read_text() if (tmp_path / "cluster-demo.log").exists() else ""
        assert done.returncode == 0, f"{done.stderr[-3000:]}\n--- log\n{log[-5000:]}"
        _check_story(done.stdout, log)
        _check_containers(name)
        _check_object_store(tmp_path / "objectstore")
        _check_promotion_in_git(tmp_path / "git" / "releases.git", done.stdout)
    finally:
        subprocess.run([*CLI, "gitserver", "down", "--dir", str(tmp_path / "git")], capture_output=True, timeout=60,
                       check=False)  # fmt: skip
        subprocess.run([*CLI, "cluster", "down", "--name", name], capture_output=True, timeout=300, check=False)
        subprocess.run([*CLI, "objectstore", "down", "--dir", str(tmp_path / "objectstore")], capture_output=True,
                       timeout=60, check=False)  # fmt: skip


def _check_story(stdout: str, log: str) -> None:
    assert re.search(r"TEST SUITE:\s+\S+-test\s.*?Phase:\s+Succeeded", log, re.S), log[-3000:]
    phases = re.findall(r"phase: (\w+)", stdout)
    assert phases[-1] == "Serving" and phases.count("Training") == 2 and "Canary" in phases, phases
    assert re.search(r"look \d+: deviance ratio [\d.]+ \[[\d.]+, [\d.]+\] on [\d,]+ offer-days: Pass", stdout)
    promoted = re.search(r"(\S+): Promoted \(CanaryPassed\); (\S+) serves", stdout)
    assert promoted is not None and promoted[1] == promoted[2], stdout[-3000:]
    lines = stdout.strip().splitlines()
    curl = next(i for i, line in enumerate(lines) if line.startswith("curl "))
    answer = json.loads(lines[curl + 1])
    assert answer["predictedClicks"] > 0 and answer["role"] == "stable"


def _check_containers(name: str) -> None:
    """Every pod that ran was a container of a built image, as its non-root user with a read-only root."""
    api = config.new_client_from_config(str(workloads.state_dir(name).parent / "kubeconfig.yaml"))
    pods = client.CoreV1Api(api).list_pod_for_all_namespaces().items
    ran = [p for p in pods if p.metadata.namespace in ("clickcast-system", "clickcast-demo")]
    assert {p.metadata.labels.get("clickcast.io/role") for p in ran} >= {"stable"}, [p.metadata.name for p in ran]
    state = workloads.state_dir(name)
    logs = list(state.glob("clickcast-*/*.log"))
    assert len(logs) >= 6, logs  # operator, helm test, trainings, evaluations, serving pods
    for path in logs:
        starts = [line for line in path.read_text(errors="replace").splitlines() if line.startswith("--- ")]
        assert starts, path
        for start in starts:
            argv = start.split(": ", 1)[1].split()
            assert argv[0].endswith("podman") and "--read-only" in argv, (path, start)
            image = next(a for a in argv if a.startswith("ghcr.io/clickcast/"))
            assert image.rsplit(":", 1)[0].split("/")[-1] in ("operator", "jobs", "serving"), start
            assert "--cap-drop" in argv, start  # every clickcast pod drops every capability
    for pod in ran:
        sc = pod.spec.security_context
        assert sc is not None and sc.run_as_non_root, pod.metadata.name
        for c in pod.spec.containers:
            assert c.security_context.read_only_root_filesystem, (pod.metadata.name, c.name)
            assert not any((e.name or "").upper().startswith("AWS_") for e in c.env or []), (pod.metadata.name, c.name)


def _check_object_store(directory: Path) -> None:
    """Every byte of the story went through MinIO: the lake, the published versions, the prediction log."""
    # Every option given explicitly (and no cached instance): another test of this worker may have installed the
    # shared MinIO's options as fsspec's defaults (tests/conftest.py), which explicit arguments override.
    options = credentials.StorageOptions.from_mapping(objectstore.storage_options(directory))
    fs = s3fs.S3FileSystem(**options.fsspec(), skip_instance_cache=True)
    found = fs.find("clickcast/demo")
    assert any("/lake/part-" in p for p in found), found[:20]
    # The operator roots a ClickModel's store at its namespace (the demo's: clickcast-demo).
    assert sum("/store/clickcast-demo/models/" in p and p.endswith("/MANIFEST.json") for p in found) >= 2, [
        p for p in found if "/store/" in p
    ][:40]


def _check_promotion_in_git(repo: Path, stdout: str) -> None:
    """The operator recorded the promotion, with its evidence, over HTTP with the Secret's credentials."""
    promoted = re.search(r"(\S+): Promoted \(CanaryPassed\)", stdout)
    assert promoted is not None
    version = promoted[1]

    def git(*args: str) -> str:
        return subprocess.run(["git", "--git-dir", str(repo), *args], check=True, capture_output=True,
                              text=True).stdout  # fmt: skip

    log = git("log", "--format=%H%n%B", "main")
    assert f"Clickcast-Promotion: clickcast-demo/offers@{version}" in log, log
    commit = re.search(r"recorded in Git: commit (\w+)", stdout)
    assert commit is not None and commit[1] in log, stdout[-2000:]
    evidence = json.loads(git("show", f"main:releases/clickcast-demo/offers/evidence/{version}.json"))
    assert evidence["canary"]["verdict"] == "Pass"
    assert evidence["canary"]["sums"]["pairs"] > 0
