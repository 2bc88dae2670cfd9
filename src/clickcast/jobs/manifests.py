"""Kubernetes objects of a training, scoring or evaluation run: pure builders, for the operator.

A run is a `batch/v1` Job (spark-submit in client mode in the jobs image) or, with `spec.training.backend:
sparkApplication`, a Spark Operator `SparkApplication`. A Job carries its ClickModel manifest itself, in an
annotation of its pod template that a downward API volume turns into the file the run reads, so nothing
outlives it: a finished Job goes after `ttlSecondsAfterFinished`, its pods with it. A SparkApplication reads
it from a ConfigMap of the same name. The pods use exactly what the ClickModel names and nothing else: its
ServiceAccount (`spec.training.serviceAccountName`, else the namespace's default with no token unless Spark
must talk to the API server) and its storage Secret (`spec.data.storageOptionsSecret`). They run non-root,
with a read-only root filesystem, no privilege escalation and no capabilities; Spark's scratch space is an
emptyDir.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import yaml

from clickcast.analysis.evidence import Comparison
from clickcast.api.duration import parse_duration
from clickcast.api.images import training_image
from clickcast.api.resource import API_VERSION, KIND
from clickcast.api.spec import ClickModelSpec
from clickcast.jobs.layout import JOBS_DIR
from clickcast.jobs.submit import DRIVER_ENV, spark_submit_argv
from clickcast.store import credentials

CONFIG_DIR = "/etc/clickcast"
MODEL_FILE = "clickmodel.yaml"
STORAGE_DIR = credentials.MOUNT_PATH
SCRATCH = "/scratch"
"""Spark's local dirs and temp files (the root filesystem is read-only)."""
SPARK_UID = 185
MANAGED_BY = {"app.kubernetes.io/managed-by": "clickcast"}
SPARK_APP_API = "sparkoperator.k8s.io/v1beta2"
SPARK_VERSION = "4.3.0"
"""The Spark of the jobs image (pyspark in uv.lock); the Spark Operator picks its submission client by it."""

Doc = dict[str, Any]
MODEL_ANNOTATION = "clickcast.io/clickmodel"
"""The pod template's annotation holding the ClickModel manifest the run reads (`--model-file`)."""
EVALUATION_TTL = 24 * 3600
"""Finished evaluation Jobs go after a day: one per canary look and per monitoring interval."""
RUN_TTL = 7 * 24 * 3600
"""Finished training and scoring Jobs (and SparkApplications) go after a week: time to read a failure's logs."""


def labels(model: str, version: str, run: str) -> dict[str, str]:
    """Labels of every object of a run (the operator watches children by `clickcast.io/model`)."""
    return {**MANAGED_BY, "app.kubernetes.io/name": "clickcast-jobs", "clickcast.io/model": model,
            "clickcast.io/version": version, "clickcast.io/run": run}  # fmt: skip


def _meta(name: str, namespace: str, lbls: Mapping[str, str], owner: Sequence[Doc]) -> Doc:
    return {"name": name, "namespace": namespace, "labels": dict(lbls), "ownerReferences": list(owner)}


def model_document(model: str, spec: ClickModelSpec) -> str:
    """The ClickModel manifest a run reads (`--model-file`), frozen at the time the run was decided."""
    doc = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": model}, "spec": spec.to_wire()}
    return yaml.safe_dump(doc, sort_keys=False)


def model_config_map(
    *, name: str, namespace: str, model: str, version: str, run: str, spec: ClickModelSpec, owner: Sequence[Doc]
) -> Doc:
    """A SparkApplication's ClickModel manifest (the Spark Operator mounts volumes by name)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(name, namespace, labels(model, version, run), owner),
        "data": {MODEL_FILE: model_document(model, spec)},
    }


def _security_context() -> Doc:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": SPARK_UID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _local_spark_conf() -> dict[str, str]:
    """Keep every file Spark, Hadoop and the JVM write on the scratch volume (the root filesystem is read-only).

    Hadoop's own default is /tmp/hadoop-<user>, where S3A buffers each part it uploads: an s3:// write failed
    with "Could not find any valid local directory for s3ablock" in a container.
    """
    tmp = f"-Djava.io.tmpdir={SCRATCH}"
    return {"spark.local.dir": SCRATCH, "spark.driver.extraJavaOptions": tmp, "spark.executor.extraJavaOptions": tmp,
            "spark.hadoop.hadoop.tmp.dir": f"{SCRATCH}/hadoop",
            "spark.hadoop.fs.s3a.buffer.dir": f"{SCRATCH}/s3a"}  # fmt: skip


def _pod_spec(spec: ClickModelSpec, argv: list[str]) -> Doc:
    t = spec.training
    resources = {"cpu": t.driver.cpu, "memory": t.driver.memory}
    container: Doc = {
        "name": "spark",
        "image": training_image(t),
        "command": argv[:1],
        "args": argv[1:],
        "env": [
            {"name": "HOME", "value": SCRATCH},
            {"name": "TMPDIR", "value": SCRATCH},
            {"name": "SPARK_LOCAL_DIRS", "value": SCRATCH},
            *DRIVER_ENV,  # the pod's IP, name and namespace: a k8s:// driver's executors reach and are owned by it
        ],
        "resources": {"requests": resources, "limits": resources},
        "volumeMounts": [
            {"name": "clickmodel", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "scratch", "mountPath": SCRATCH},
        ],
        "securityContext": _security_context(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    # The pod's own annotation as a file: the Job carries its manifest, so there is no ConfigMap to leak.
    manifest = {"path": MODEL_FILE, "fieldRef": {"fieldPath": f"metadata.annotations['{MODEL_ANNOTATION}']"}}
    volumes: list[Doc] = [{"name": "clickmodel", "projected": {"sources": [{"downwardAPI": {"items": [manifest]}}]}},
                          {"name": "scratch", "emptyDir": {}}]  # fmt: skip
    if spec.data.storage_options_secret:
        # The store's credentials as files (clickcast.store.credentials), never as visible env values.
        volumes.append({"name": "storage", "secret": {"secretName": spec.data.storage_options_secret}})
        container["volumeMounts"].append({"name": "storage", "mountPath": STORAGE_DIR, "readOnly": True})
        container["env"].append({"name": credentials.ENV, "value": STORAGE_DIR})
    pod: Doc = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": t.master.startswith("k8s://"),
        "securityContext": {"runAsNonRoot": True, "runAsUser": SPARK_UID, "fsGroup": SPARK_UID},
        "containers": [container],
        "volumes": volumes,
    }
    if t.service_account_name:
        pod["serviceAccountName"] = t.service_account_name
    return pod


def _job(*, name: str, namespace: str, model: str, lbls: Mapping[str, str], owner: Sequence[Doc], pod: Doc,
         spec: ClickModelSpec, ttl: int) -> Doc:  # fmt: skip
    template = {"labels": dict(lbls), "annotations": {MODEL_ANNOTATION: model_document(model, spec)}}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(name, namespace, lbls, owner),
        "spec": {
            "backoffLimit": spec.training.backoff_limit,
            "activeDeadlineSeconds": math.ceil(parse_duration(spec.training.timeout).total_seconds()),
            # What the operator reads of a run is read as soon as it ends (its state; the outcome is in the store),
            # and a run gone before it was read is created again under the same name (the core asks for it).
            "ttlSecondsAfterFinished": ttl,
            "template": {"metadata": template, "spec": pod},
        },
    }


def _spark_job(*, name: str, namespace: str, model: str, version: str, spec: ClickModelSpec, owner: Sequence[Doc],
               run: str, entry: str, args: list[str], jobs_dir: str, ttl: int = RUN_TTL) -> Doc:  # fmt: skip
    """A Job running spark-submit of `entry` (a file in jobs/) in client mode, labelled as `run`."""
    argv = spark_submit_argv(spec, f"clickcast-{entry.removesuffix('.py')}-{model}", entry, args, model=model,
                             jobs_dir=jobs_dir, extra_conf=_local_spark_conf())  # fmt: skip
    lbls = labels(model, version, run)
    return _job(name=name, namespace=namespace, model=model, lbls=lbls, owner=owner, pod=_pod_spec(spec, argv),
                spec=spec, ttl=ttl)  # fmt: skip


def train_args(model: str, version: str, reference: tuple[str, str] | None, model_file: str = "") -> list[str]:
    """train.py's flags (also `clickcast train`'s): the ClickModel, the version to publish, the stable version."""
    args = ["--model-file", model_file or f"{CONFIG_DIR}/{MODEL_FILE}", "--name", model, "--version", version]
    if reference is not None:
        args += ["--reference-model", reference[0], "--reference-sha256", reference[1]]
    return args


def scoring_args(spec: ClickModelSpec, model_uri: str, manifest_sha256: str, output: str) -> list[str]:
    """score.py's flags (also `clickcast score`'s): the pinned version scores `spec.scoring.dataUrl` into `output`."""
    assert spec.scoring is not None  # batch mode requires it (API rule)
    return ["--model", model_uri, "--sha256", manifest_sha256, "--data", spec.scoring.data_url, "--out", output,
            "--format", str(spec.scoring.format)]  # fmt: skip


def evaluation_args(spec: ClickModelSpec, predictions: str, output: str, *, after: date | None = None,
                    compare: Comparison | None = None, model_file: str = "") -> list[str]:  # fmt: skip
    """evaluate.py's flags (also `clickcast evaluate`'s): offer-days after `after`, `compare` for a canary look."""
    args = ["--model-file", model_file or f"{CONFIG_DIR}/{MODEL_FILE}", "--predictions", predictions,
            "--actuals", spec.data.url, "--format", str(spec.data.format), "--out", output]  # fmt: skip
    if after is not None:
        args += ["--after", after.isoformat()]
    if compare is not None:
        args += ["--stable-version", compare.stable, "--candidate-version", compare.candidate]
        args += ["--paired"] if compare.paired else []
    return args


def training_job(
    *,
    name: str,
    namespace: str,
    model: str,
    version: str,
    spec: ClickModelSpec,
    owner: Sequence[Doc],
    reference: tuple[str, str] | None = None,
    jobs_dir: str = JOBS_DIR,
) -> Doc:
    """The Job training `version` of ClickModel `model` (`reference`: the stable version's URI and sha256)."""
    return _spark_job(name=name, namespace=namespace, model=model, version=version, spec=spec, owner=owner,
                      run="training", entry="train.py", args=train_args(model, version, reference),
                      jobs_dir=jobs_dir)  # fmt: skip


def scoring_job(
    *,
    name: str,
    namespace: str,
    model: str,
    version: str,
    model_uri: str,
    manifest_sha256: str,
    output: str,
    spec: ClickModelSpec,
    owner: Sequence[Doc],
    jobs_dir: str = JOBS_DIR,
) -> Doc:
    """The Job scoring `spec.scoring.dataUrl` with the pinned version into `output` (batch mode)."""
    args = scoring_args(spec, model_uri, manifest_sha256, output)
    return _spark_job(name=name, namespace=namespace, model=model, version=version, spec=spec, owner=owner,
                      run="scoring", entry="score.py", args=args, jobs_dir=jobs_dir)  # fmt: skip


def evaluation_job(
    *,
    name: str,
    namespace: str,
    model: str,
    version: str,
    spec: ClickModelSpec,
    owner: Sequence[Doc],
    predictions: str,
    output: str,
    after: date | None = None,
    compare: Comparison | None = None,
    jobs_dir: str = JOBS_DIR,
) -> Doc:
    """The Job joining the prediction log with the real clicks that arrived (offer-days after `after`).

    With `compare`, it also sums the canary test's statistics of the two versions; `version` labels it.
    """
    args = evaluation_args(spec, predictions, output, after=after, compare=compare)
    # One per look and per monitoring interval: finished ones go after a day (the report stays in the store; a
    # run deleted before the operator saw it finish is recreated with the same name and window, harmlessly).
    return _spark_job(name=name, namespace=namespace, model=model, version=version, spec=spec, owner=owner,
                      run="evaluation", entry="evaluate.py", args=args, jobs_dir=jobs_dir,
                      ttl=EVALUATION_TTL)  # fmt: skip


def spark_application(
    *,
    name: str,
    namespace: str,
    model: str,
    version: str,
    spec: ClickModelSpec,
    owner: Sequence[Doc],
    reference: tuple[str, str] | None = None,
    jobs_dir: str = JOBS_DIR,
) -> Doc:
    """The Spark Operator's SparkApplication equivalent of `training_job` (`backend: sparkApplication`)."""
    t = spec.training
    args = train_args(model, version, reference)
    lbls = labels(model, version, "training")
    mounts = [{"name": "clickmodel", "mountPath": CONFIG_DIR}, {"name": "scratch", "mountPath": SCRATCH}]
    secret = spec.data.storage_options_secret

    def role(cpu: str, memory: str) -> Doc:
        out: Doc = {"cores": max(1, math.ceil(float(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu))),
                    "memory": memory.replace("Gi", "g").replace("Mi", "m"), "labels": dict(lbls),
                    "volumeMounts": mounts, "securityContext": _security_context()}  # fmt: skip
        if secret:
            out["secrets"] = [{"name": secret, "path": STORAGE_DIR, "secretType": "Generic"}]
            out["env"] = [{"name": credentials.ENV, "value": STORAGE_DIR}]
        return out

    driver = role(t.driver.cpu, t.driver.memory)
    if t.service_account_name:
        driver["serviceAccount"] = t.service_account_name
    return {
        "apiVersion": SPARK_APP_API,
        "kind": "SparkApplication",
        "metadata": _meta(name, namespace, lbls, owner),
        "spec": {
            "type": "Python",
            "pythonVersion": "3",
            "mode": "cluster",
            "image": training_image(t),
            "mainApplicationFile": f"local://{jobs_dir.rstrip('/')}/train.py",
            "arguments": args,
            "sparkVersion": SPARK_VERSION,
            "timeToLiveSeconds": RUN_TTL,  # the Spark Operator deletes it once it ended (and its pods)
            "sparkConf": {**_local_spark_conf(), **t.spark_conf},
            "restartPolicy": {
                "type": "OnFailure" if t.backoff_limit else "Never",
                "onFailureRetries": t.backoff_limit,
            },
            "driver": driver,
            "executor": {**role(t.executors.cpu, t.executors.memory), "instances": t.executors.instances},
            "volumes": [{"name": "clickmodel", "configMap": {"name": name}}, {"name": "scratch", "emptyDir": {}}],
        },
    }
