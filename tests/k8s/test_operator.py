"""The operator against the real local control plane, with the training Jobs run for real (Spark)."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.k8s.conftest import GROUP, OPERATOR_DATA, PLURAL, VERSION, Kube, wait_for
from tests.k8s.operator_harness import (
    JobRunner,
    OperatorProcess,
    clickmodel,
    condition,
    deployment,
    events_once,
    manifest,
    running_operator,
    service_account_kubeconfig,
    wait_for_phase,
)
from tests.manifests import ROOT
from tests.serving.conftest import free_port

pytestmark = pytest.mark.k8s


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
        stable_dep = kube.apps.read_namespaced_deployment("offers-stable", namespace)
        env_vars = {e.name: e.value for e in stable_dep.spec.template.spec.containers[0].env}
        assert env_vars["MODEL_URI"] == status["stable"]["uri"]
        # Under the ClickModel's namespace: an `offers` in another namespace on the same store never shares a path.
        assert status["stable"]["uri"] == f"file://{tmp_path}/store/{namespace}/models/offers/{version}"
        assert (tmp_path / "store" / namespace / "models" / "offers" / version / "MANIFEST.json").is_file()
        assert env_vars["MODEL_SHA256"] == status["stable"]["checksum"]
        assert stable_dep.spec.strategy.rolling_update.max_unavailable == 0
        table = subprocess.run(["kubectl", "get", "clickmodels", "-n", namespace], capture_output=True, text=True,
                               env={**os.environ, "KUBECONFIG": str(kube.kubeconfig)}, check=True).stdout  # fmt: skip
        header, row = table.splitlines()[:2]
        assert header.split()[:5] == ["NAME", "PHASE", "STABLE", "CANDIDATE", "CANARY"]
        assert row.split()[:3] == ["offers", "Serving", version]
        assert f"{status['stable']['metrics']['poissonDeviance']:.4g}"[:4] in row
        reasons = sorted(r for _, r, _ in events_once(kube, namespace, "offers", "Promoted"))
        # One Event per transition, none repeated by the reconciliations in between.
        assert reasons == sorted(["TrainingStarted", "TrainingSucceeded", "Validated", "PromotionStarted", "Promoted"])
    assert len(kube.batch.list_namespaced_job(namespace).items) == 1
    assert isinstance(jobs.runs[job_name], object)
    assert clickmodel(kube, namespace, "offers")["status"]["observedGeneration"] == 1


@pytest.mark.timeout(1800)  # a story of several Spark runs: on a busy 2-core machine, well past the default
def test_a_release_survives_the_operator_being_killed_in_every_phase(
    *, kube: Kube, namespace: str, clicks: str, tmp_path: Path, env: None, jobs: JobRunner
) -> None:
    """First version, then a manual canary release and a rejected retrain, with a SIGKILL at each new phase."""
    op = OperatorProcess(namespace, tmp_path)
    seen: list[str] = []

    def phase_kill_restart(*phases: str, timeout: float = 420) -> dict[str, Any]:
        """Wait for one of `phases`; on every phase seen for the first time on the way, kill and restart."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            obj = clickmodel(kube, namespace, "offers")
            phase = (obj.get("status") or {}).get("phase")
            if phase in phases:
                return obj
            if phase == "Failed":
                raise AssertionError(f"Failed: {obj['status']}")
            if phase is not None and phase not in seen:
                seen.append(phase)
                op.kill()
                op.start()
            time.sleep(0.2)
        raise AssertionError(f"not in {phases} after {timeout:.0f}s: {obj.get('status')}\n{op.logs()[-3000:]}")

    origin = tmp_path / "releases.git"
    subprocess.run(["git", "init", "--bare", "-q", "-b", "main", str(origin)], check=True)
    manual = {"promotion.mode": "manual", "promotion.gitops": {"repoUrl": f"file://{origin}", "path": "releases"}}
    doc = manifest("offers", clicks, tmp_path / "store", **manual)
    op.start()
    try:
        kube.create_clickmodel(doc, namespace)
        first = phase_kill_restart("Serving")["status"]["stable"]
        assert "Training" in seen

        # A retrain (trigger) canaries beside stable and waits for approval.
        patch = {"spec": {"training": {"trigger": "retrain-1"}}}
        kube.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "offers", patch)
        canary = phase_kill_restart("Canary")
        candidate = canary["status"]["candidate"]["version"]
        assert candidate != first["version"]
        canary_dep = wait_for("the canary Deployment", lambda: deployment(kube, namespace, "offers-canary"))
        assert canary_dep.metadata.labels["clickcast.io/version"] == candidate
        assert deployment(kube, namespace, "offers-stable").metadata.labels["clickcast.io/version"] == first["version"]
        wait_for("the canary to be ready", lambda: (clickmodel(kube, namespace, "offers")["status"].get("canary")),
                 timeout=60)  # fmt: skip
        op.kill()  # in Canary, waiting for approval
        op.start()
        patch = {"spec": {"promotion": {"approvedVersion": candidate}}}
        kube.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "offers", patch)
        promoted = phase_kill_restart("Serving")["status"]
        assert promoted["stable"]["version"] == candidate
        assert [h["decision"] for h in promoted["history"][:2]] == ["Promoted", "Promoted"]
        wait_for("the canary to be retired", lambda: deployment(kube, namespace, "offers-canary") is None)
        stable_dep = deployment(kube, namespace, "offers-stable")
        assert stable_dep.metadata.labels["clickcast.io/version"] == candidate

        # A retrain that fails a gate is rejected and never touches stable.
        patch = {"spec": {"training": {"trigger": "retrain-2"}, "validation": {"absolute": {"maxMae": 0.001}},
                          "promotion": {"approvedVersion": None}}}  # fmt: skip
        kube.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "offers", patch)
        wait_for("the rejection", lambda: clickmodel(kube, namespace, "offers")["status"]["history"][0]["decision"]
                 == "Rejected", timeout=420)  # fmt: skip
        rejected = clickmodel(kube, namespace, "offers")["status"]
        assert rejected["phase"] == "Serving"
        assert rejected["stable"]["version"] == candidate
        assert "absolute.maxMae" in {g["name"] for g in rejected["history"][0]["gates"]}
        assert deployment(kube, namespace, "offers-stable").metadata.labels["clickcast.io/version"] == candidate
        assert deployment(kube, namespace, "offers-canary") is None
    finally:
        op.kill()
    # Never a second Job for one training, whatever the kills interrupted.
    job_versions = [j.metadata.labels["clickcast.io/version"] for j in kube.batch.list_namespaced_job(namespace).items]
    assert len(job_versions) == len(set(job_versions)) == 3, job_versions
    # Never a second Git commit for one promotion: each promoted version's trailer is on main exactly once.
    log = subprocess.run(["git", "--git-dir", str(origin), "log", "--format=%B", "main"], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    trailers = [line for line in log.splitlines() if line.startswith("Clickcast-Promotion: ")]
    assert sorted(trailers) == sorted(
        f"Clickcast-Promotion: {namespace}/offers@{v}" for v in (first["version"], candidate)
    ), log
    assert op.starts >= 4
    # Structured JSON logs name the ClickModel, the version and the phase.
    lines = [json.loads(line) for line in op.logs().splitlines() if line.startswith("{")]
    transitions = [line for line in lines if line.get("message", "").startswith("phase ")]
    assert transitions
    assert all(
        line["clickmodel"] == f"{namespace}/offers" and line["phase"] and line["version"] for line in transitions
    )


def _secret_refs(pod_spec: dict[str, Any]) -> set[str]:
    """Every Secret a pod spec can reach: volumes (plain and projected), envFrom and env."""
    refs = set()
    for volume in pod_spec.get("volumes") or []:
        if "secret" in volume:
            refs.add(volume["secret"]["secretName"])
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "secret" in source:
                refs.add(source["secret"]["name"])
    for container in [*(pod_spec.get("initContainers") or []), *pod_spec["containers"]]:
        refs |= {s["secretRef"]["name"] for s in container.get("envFrom") or [] if "secretRef" in s}
        refs |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env") or []
                 if "secretKeyRef" in (e.get("valueFrom") or {})}  # fmt: skip
    return refs


def test_pods_use_only_what_the_clickmodel_names_and_go_with_it(
    *, kube: Kube, namespace: str, clicks: str, tmp_path: Path, env: None
) -> None:
    for secret in ("lake-creds", "database-password"):
        kube.core.create_namespaced_secret(namespace, {"metadata": {"name": secret}, "stringData": {"k": "v"}})
    kube.core.create_namespaced_service_account(namespace, {"metadata": {"name": "trainer"}})
    doc = manifest("offers", clicks, tmp_path / "store", **{"data.storageOptionsSecret": "lake-creds",
                                                             "training.serviceAccountName": "trainer"})  # fmt: skip
    # A ClickModel cannot smuggle another Secret in through Spark's settings: the API server refuses it.
    mount = {"spark.kubernetes.driver.secrets.database-password": "/s"}
    sneaky = manifest("sneaky", clicks, tmp_path / "store", **{"training.sparkConf": mount})
    with pytest.raises(ApiException) as refused:
        kube.create_clickmodel(sneaky, namespace)
    assert refused.value.status == 422
    assert "spec.training.sparkConf" in refused.value.body
    with running_operator(namespace):
        kube.create_clickmodel(doc, namespace)
        job = wait_for("the training Job", lambda: kube.batch.list_namespaced_job(namespace).items, timeout=60)[0]
    pod_spec = kube.api.sanitize_for_serialization(job.spec.template.spec)
    assert _secret_refs(pod_spec) == {"lake-creds"}
    assert pod_spec["serviceAccountName"] == "trainer"
    assert pod_spec["automountServiceAccountToken"] is False  # local master: Spark needs no API access
    assert {v["name"] for v in pod_spec["volumes"]} == {"clickmodel", "scratch", "storage"}
    security = pod_spec["containers"][0]["securityContext"]
    assert (security["runAsNonRoot"], security["readOnlyRootFilesystem"], security["allowPrivilegeEscalation"]) == (
        True, True, False)  # fmt: skip

    # Deleting the ClickModel takes its Job with it (owner references; no finalizer to wait on); a Job run has no
    # ConfigMap (it carries its manifest in its pod template), and none is left behind.
    model = clickmodel(kube, namespace, "offers")
    assert not model["metadata"].get("finalizers")
    kube.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "offers")
    wait_for("the Job to be collected", lambda: not kube.batch.list_namespaced_job(namespace).items, timeout=60)
    wait_for("the ConfigMap to be collected", lambda: not [
        c for c in kube.core.list_namespaced_config_map(namespace).items if c.metadata.name.startswith("offers-")
    ], timeout=60)  # fmt: skip


def test_a_failing_training_job_is_reported_and_backs_off(
    *, kube: Kube, namespace: str, tmp_path: Path, env: None, jobs: JobRunner
) -> None:
    empty = tmp_path / "no-clicks"
    empty.mkdir()
    with running_operator(namespace):
        kube.create_clickmodel(manifest("offers", f"file://{empty}", tmp_path / "store"), namespace)
        failed = wait_for_phase(kube, namespace, "offers", "Failed", timeout=180)
        trained = condition(failed, "Trained")
        assert (trained["status"], trained["reason"]) == ("False", "TrainingFailed")
        assert "exit code" in trained["message"]  # the container's own last words, not just "BackoffLimitExceeded"
        status = failed["status"]
        assert status["training"]["failures"] == 1
        assert status["training"]["retryAt"] > status["training"]["finishedAt"]
        assert status["history"][0]["decision"] == "Failed"
        assert ("Warning", "TrainingFailed") in {
            (t, r) for t, r, _ in events_once(kube, namespace, "offers", "TrainingFailed")
        }
        time.sleep(5)  # the retry waits for its backoff: still exactly one Job
        assert len(kube.batch.list_namespaced_job(namespace).items) == 1
    assert not kube.apps.list_namespaced_deployment(namespace).items


def test_batch_mode_scores_with_a_validated_version_and_serves_nothing(
    *, kube: Kube, namespace: str, clicks: str, tmp_path: Path, env: None, jobs: JobRunner
) -> None:
    out = tmp_path / "scored"
    doc = manifest("nightly", clicks, tmp_path / "store", **{
        "serving.enabled": False, "scoring": {"dataUrl": clicks, "outputUrl": f"file://{out}"}})  # fmt: skip
    with running_operator(namespace):
        kube.create_clickmodel(doc, namespace)
        done = wait_for_phase(kube, namespace, "nightly", "Serving", "Failed", timeout=600)
    status = done["status"]
    assert status["phase"] == "Serving", status.get("history")
    version = status["stable"]["version"]
    assert status["history"][0]["reason"] == "Scored"
    scored = pq.read_table(out / version)
    assert scored.num_rows == OPERATOR_DATA.rows
    assert set(scored.column("model_version").to_pylist()) == {version}
    assert not kube.apps.list_namespaced_deployment(namespace).items
    runs = sorted(j.metadata.labels["clickcast.io/run"] for j in kube.batch.list_namespaced_job(namespace).items)
    assert runs == ["scoring", "training"]


def test_the_operator_needs_no_more_than_its_namespaced_role(
    *, kube: Kube, namespace: str, clicks: str, tmp_path: Path, env: None, jobs: JobRunner
) -> None:
    """Run as a ServiceAccount bound only to manifests/rbac/operator-namespaced.yaml: a full release, no 403."""
    docs = [d for d in yaml.safe_load_all((ROOT / "manifests/rbac/operator-namespaced.yaml").read_text()) if d]
    kube.core.create_namespaced_service_account(namespace, {"metadata": {"name": "clickcast-operator"}})
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
        for subject in doc.get("subjects") or []:
            subject["namespace"] = namespace
        kube.create(doc, namespace)
    kubeconfig = service_account_kubeconfig(kube, namespace, "clickcast-operator", tmp_path / "operator.kubeconfig")
    ports = free_port(), free_port()
    op = OperatorProcess(namespace, tmp_path, kubeconfig=kubeconfig, ports=ports)
    op.start()
    try:
        kube.create_clickmodel(manifest("offers", clicks, tmp_path / "store"), namespace)
        served = wait_for_phase(kube, namespace, "offers", "Serving", "Failed", timeout=420)
        assert httpx.get(f"http://127.0.0.1:{ports[0]}/healthz", timeout=5).status_code == 200
        metrics = httpx.get(f"http://127.0.0.1:{ports[1]}/metrics", timeout=5).text
        assert 'clickcast_operator_reconciles_total{result="ok"}' in metrics
        assert 'clickcast_operator_transitions_total{reason="Promoted"} 1.0' in metrics
        assert 'clickcast_operator_phase_duration_seconds_count{phase="Training"} 1.0' in metrics
    finally:
        op.kill()
    assert served["status"]["phase"] == "Serving", served["status"].get("history")
    assert kube.apps.read_namespaced_deployment("offers-stable", namespace).spec.replicas == 2
    # The client's refusals read "(403)" and "Forbidden" (a bare "403" is also in timestamps and versions).
    refused = [line for line in op.logs().splitlines() if "(403)" in line or "forbidden" in line.lower()]
    assert not refused, refused[:3]
    assert "reconcile failed" not in op.logs()


def test_a_reconciliation_that_keeps_failing_says_so_on_the_clickmodel_and_clears_when_it_recovers(
    *, kube: Kube, namespace: str, tmp_path: Path, env: None
) -> None:
    """The operator's Role lacks `create` on Jobs, so every reconciliation fails (403) where it asks for the
    training run: after 3 in a row the ClickModel has ReconcileError=True and a warning Event; granting the verb
    clears it on the next retry (issue 19: no fault is only logged)."""
    docs = [d for d in yaml.safe_load_all((ROOT / "manifests/rbac/operator-namespaced.yaml").read_text()) if d]
    kube.core.create_namespaced_service_account(namespace, {"metadata": {"name": "clickcast-operator"}})
    role: dict[str, Any] = {}
    for doc in docs:
        doc["metadata"]["namespace"] = namespace
        for subject in doc.get("subjects") or []:
            subject["namespace"] = namespace
        if doc["kind"] == "Role":
            role = copy.deepcopy(doc)
            for rule in doc["rules"]:
                if "jobs" in rule["resources"]:
                    rule["verbs"] = [v for v in rule["verbs"] if v != "create"]
        kube.create(doc, namespace)
    kubeconfig = service_account_kubeconfig(kube, namespace, "clickcast-operator", tmp_path / "operator.kubeconfig")
    op = OperatorProcess(namespace, tmp_path, kubeconfig=kubeconfig, ports=(free_port(), free_port()))
    op.start()

    def reconcile_error(status: str) -> dict[str, Any] | None:
        model = clickmodel(kube, namespace, "offers")
        found = [c for c in (model.get("status") or {}).get("conditions") or [] if c["type"] == "ReconcileError"]
        return model if found and found[0]["status"] == status else None

    try:
        kube.create_clickmodel(manifest("offers", f"file://{tmp_path}/clicks", tmp_path / "store"), namespace)
        failing = wait_for("ReconcileError=True", lambda: reconcile_error("True"), timeout=120)
        c = condition(failing, "ReconcileError")
        assert c["reason"] == "ForbiddenError", c  # the dynamic client's ApiException for a 403
        assert " reconciliations in a row failed" in c["message"] and "HTTP 403 Forbidden" in c["message"]
        assert "HTTP response" not in c["message"]  # the client's text carries headers and body: left out
        warned = events_once(kube, namespace, "offers", "ReconcileError")
        assert [t for t, r, _ in warned if r == "ReconcileError"] == ["Warning"]  # one Event, not one per retry
        time.sleep(10)  # the fault lasts: retries keep to the backoff (counted below)
        client.RbacAuthorizationV1Api(kube.api).replace_namespaced_role("clickcast-operator", namespace, role)
        recovered = wait_for("ReconcileError=False", lambda: reconcile_error("False"), timeout=120)
    finally:
        op.kill()
    assert condition(recovered, "ReconcileError")["reason"] == "Reconciled"
    assert recovered["status"]["phase"] == "Training"
    assert [j.metadata.name for j in kube.batch.list_namespaced_job(namespace).items] == [
        recovered["status"]["training"]["jobName"]]  # fmt: skip
    assert "could not report the failure" not in op.logs()
    # The backoff held: writing the condition (which wakes the ClickModel's watch) happened once, not per retry.
    assert op.logs().count("reconcile failed (attempt") <= 8, op.logs().count("reconcile failed (attempt")


SPARK_APP_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    # *.k8s.io groups need this annotation; the Spark Operator's own CRD carries the same one.
    "metadata": {"name": "sparkapplications.sparkoperator.k8s.io",
                 "annotations": {"api-approved.kubernetes.io": "https://github.com/kubeflow/spark-operator/pull/1298"}},
    "spec": {
        "group": "sparkoperator.k8s.io",
        "scope": "Namespaced",
        "names": {"plural": "sparkapplications", "singular": "sparkapplication", "kind": "SparkApplication"},
        "versions": [{"name": "v1beta2", "served": True, "storage": True,
                      "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}],
    },
}  # fmt: skip
"""A stand-in for the Spark Operator's CRD (which cannot run here): enough to store SparkApplications."""


def test_spark_application_backend_waits_for_the_spark_operators_verdict(
    *, kube: Kube, namespace: str, clicks: str, tmp_path: Path, env: None
) -> None:
    ext = client.ApiextensionsV1Api(kube.api)
    ext.create_custom_resource_definition(SPARK_APP_CRD)
    try:
        wait_for("the SparkApplication CRD", lambda: any(
            c.type == "Established" and c.status == "True"
            for c in ext.read_custom_resource_definition(SPARK_APP_CRD["metadata"]["name"]).status.conditions or []
        ), timeout=30)  # fmt: skip
        doc = manifest("offers", clicks, tmp_path / "store", **{"training.backend": "sparkApplication"})
        with running_operator(namespace):
            kube.create_clickmodel(doc, namespace)
            training = wait_for_phase(kube, namespace, "offers", "Training", timeout=60)
            name = training["status"]["training"]["jobName"]
            app = wait_for("the SparkApplication", lambda: _spark_app(kube, namespace, name), timeout=30)
            assert app["metadata"]["ownerReferences"][0]["kind"] == "ClickModel"
            assert app["spec"]["mainApplicationFile"].endswith("/train.py")
            assert not kube.batch.list_namespaced_job(namespace).items  # no Job beside it
            app["status"] = {"applicationState": {"state": "RUNNING"}}
            kube.custom.replace_namespaced_custom_object(*SPARK_APP, namespace, "sparkapplications", name, app)
            time.sleep(3)
            assert clickmodel(kube, namespace, "offers")["status"]["phase"] == "Training"  # waits for the verdict
            app = _spark_app(kube, namespace, name)
            app["status"] = {"applicationState": {"state": "FAILED", "errorMessage": "driver pod OOMKilled"}}
            kube.custom.replace_namespaced_custom_object(*SPARK_APP, namespace, "sparkapplications", name, app)
            failed = wait_for_phase(kube, namespace, "offers", "Failed", timeout=60)
        trained = condition(failed, "Trained")
        assert trained["reason"] == "TrainingFailed"
        assert "driver pod OOMKilled" in trained["message"]
    finally:
        ext.delete_custom_resource_definition(SPARK_APP_CRD["metadata"]["name"])


SPARK_APP = ("sparkoperator.k8s.io", "v1beta2")


def _spark_app(kube: Kube, namespace: str, name: str) -> Any:
    try:
        return kube.custom.get_namespaced_custom_object(*SPARK_APP, namespace, "sparkapplications", name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def test_two_replicas_with_peering_one_works_the_other_waits(
    *, kube: Kube, namespace: str, clicks: str, tmp_path: Path, env: None
) -> None:
    peering = [d for d in yaml.safe_load_all((ROOT / "manifests/peering/kopf-peering.yaml").read_text()) if d]
    ext = client.ApiextensionsV1Api(kube.api)
    crds = [d for d in peering if d["kind"] == "CustomResourceDefinition"]
    for crd in crds:
        with contextlib.suppress(ApiException):
            ext.create_custom_resource_definition(crd)
    try:
        wait_for("the peering CRDs", lambda: all(any(
            c.type == "Established" and c.status == "True"
            for c in ext.read_custom_resource_definition(crd["metadata"]["name"]).status.conditions or []
        ) for crd in crds), timeout=30)  # fmt: skip
        # A namespaced operator peers through a KopfPeering of that name in its namespace.
        kube.custom.create_namespaced_custom_object("kopf.dev", "v1", namespace, "kopfpeerings",
                                                    {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering",
                                                     "metadata": {"name": "clickcast"}})  # fmt: skip
        high = OperatorProcess(namespace, tmp_path / "high", extra=["--peering", "clickcast", "--priority", "10"])
        low = OperatorProcess(namespace, tmp_path / "low", extra=["--peering", "clickcast", "--priority", "5"])
        for op in (high, low):
            op.log_dir.mkdir()
            op.start()
        try:
            # Both announce themselves in the peering; the high one works, the low one waits (kopf starts
            # each paused, and logs a pause or a resume when a peer check changes that).
            def settled() -> bool:
                peers = kube.custom.get_namespaced_custom_object(
                    "kopf.dev", "v1", namespace, "kopfpeerings", "clickcast").get("status") or {}  # fmt: skip
                return len(peers) == 2 and high.paused() is False and low.paused() is not False

            wait_for("both replicas in the peering, the high one resumed", settled, timeout=120)
            kube.create_clickmodel(manifest("offers", clicks, tmp_path / "store"), namespace)
            wait_for_phase(kube, namespace, "offers", "Training", timeout=60)
            wait_for("the high replica to log the transition",
                     lambda: "phase Pending -> Training" in high.messages(), timeout=30)  # fmt: skip
            assert "phase Pending -> Training" not in low.messages()
            high.kill()  # the worker dies: the waiting replica takes over
            patch = {"spec": {"training": {"trigger": "after-failover"}}}
            kube.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "offers", patch)
            wait_for("the second replica to take over", lambda: clickmodel(
                kube, namespace, "offers")["status"].get("observedGeneration") == 2, timeout=120)  # fmt: skip
        finally:
            high.kill()
            low.kill()
        assert len(kube.batch.list_namespaced_job(namespace).items) == 1
    finally:
        for crd in crds:
            ext.delete_custom_resource_definition(crd["metadata"]["name"])
