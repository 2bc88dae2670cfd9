"""The spark-submit command line of a training run (the operator's Job backend runs it in the jobs image).

With a `k8s://` master, spark-submit runs in client mode inside the training
pod and Spark's Kubernetes scheduler backend asks the API server for executor
pods: they run the same image, started by its entrypoint with the argument
`executor` (jobs/entrypoint.sh). The driver must be reachable from them at
its pod IP, and it names its own pod so that the executors are owned by it and
deleted with it. The pod supplies those values through DRIVER_ENV (downward
API); Kubernetes expands the `$(VAR)` references in the argv. The pod's
ServiceAccount needs EXECUTOR_RBAC_RULES in its namespace, no more.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from clickcast.api.images import training_image
from clickcast.api.spec import ClickModelSpec
from clickcast.jobs.layout import JOBS_DIR

SERVICE_ACCOUNT_DIR: Final = "/var/run/secrets/kubernetes.io/serviceaccount"
"""Where every pod gets its ServiceAccount token and the cluster CA."""
DRIVER_PORT, BLOCK_MANAGER_PORT = 7078, 7079
"""Fixed driver ports, so a NetworkPolicy can let the executors in."""
MODEL_LABEL: Final = "clickcast.io/model"

DRIVER_ENV: Final[list[dict[str, Any]]] = [
    {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}
    for name, path in (
        ("POD_IP", "status.podIP"),
        ("POD_NAME", "metadata.name"),
        ("POD_NAMESPACE", "metadata.namespace"),
    )
]
"""Env of the training container that the k8s:// argv refers to as $(POD_IP), $(POD_NAME), $(POD_NAMESPACE)."""

EXECUTOR_RBAC_RULES: Final[list[dict[str, list[str]]]] = [
    # The driver creates, watches and deletes its executor pods, and one ConfigMap with their Spark conf.
    {
        "apiGroups": [""],
        "resources": ["pods"],
        "verbs": ["create", "get", "list", "watch", "delete", "deletecollection"],
    },
    {
        "apiGroups": [""],
        "resources": ["configmaps"],
        "verbs": ["create", "get", "list", "watch", "delete", "deletecollection"],
    },
]
"""The Role rules the training pod's ServiceAccount needs for Spark to manage its executors (namespace-scoped)."""

_UNITS = {"Ki": "k", "Mi": "m", "Gi": "g", "Ti": "t", "k": "k", "M": "m", "G": "g", "T": "t"}


def spark_memory(quantity: str) -> str:
    """A Kubernetes memory quantity as Spark writes it: 2Gi -> 2g, 512Mi -> 512m (binary units, as Spark's)."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)", quantity)
    if match is None or match.group(2) not in {"", *_UNITS}:
        raise ValueError(f"invalid memory quantity {quantity!r}")
    number, unit = float(match.group(1)), match.group(2)
    if not unit:
        return f"{max(1, math.ceil(number / 2**20))}m"
    return f"{math.ceil(number)}{_UNITS[unit]}"


def spark_cores(quantity: str) -> int:
    """Whole cores for spark.*.cores (Kubernetes may give fractions: 500m -> 1)."""
    value = float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)
    return max(1, math.ceil(value))


def kubernetes_conf(spec: ClickModelSpec, name: str) -> dict[str, str]:
    """Spark conf of a client-mode driver in the training pod that runs its executors as pods."""
    t = spec.training
    return {
        "spark.kubernetes.namespace": "$(POD_NAMESPACE)",
        "spark.kubernetes.driver.pod.name": "$(POD_NAME)",  # executors get an ownerReference to this pod
        "spark.driver.host": "$(POD_IP)",
        "spark.driver.bindAddress": "$(POD_IP)",  # as Spark's own image does: nothing advertises 0.0.0.0
        "spark.driver.port": str(DRIVER_PORT),
        "spark.driver.blockManager.port": str(BLOCK_MANAGER_PORT),
        "spark.kubernetes.authenticate.oauthTokenFile": f"{SERVICE_ACCOUNT_DIR}/token",
        "spark.kubernetes.authenticate.caCertFile": f"{SERVICE_ACCOUNT_DIR}/ca.crt",
        "spark.kubernetes.container.image": training_image(t),
        "spark.kubernetes.executor.request.cores": t.executors.cpu,
        "spark.kubernetes.executor.limit.cores": t.executors.cpu,
        "spark.kubernetes.executor.deleteOnTermination": "true",
        f"spark.kubernetes.executor.label.{MODEL_LABEL}": name,
        "spark.kubernetes.driver.request.cores": t.driver.cpu,
        # xgboost trains in one barrier stage over every executor core: start only once all have registered.
        "spark.scheduler.minRegisteredResourcesRatio": "1.0",
        "spark.scheduler.maxRegisteredResourcesWaitingTime": "300s",
    }


def spark_submit_argv(
    spec: ClickModelSpec,
    app_name: str,
    entry: str,
    job_args: Sequence[str],
    *,
    model: str,
    spark_submit: str = "spark-submit",
    jobs_dir: str = JOBS_DIR,
    extra_conf: Mapping[str, str] | None = None,
) -> list[str]:
    """argv of `spark-submit <jobs_dir>/<entry> <job_args>` for ClickModel `model`: master, resources, image."""
    t = spec.training
    conf = {
        "spark.app.name": app_name,
        "spark.driver.memory": spark_memory(t.driver.memory),
        "spark.driver.cores": str(spark_cores(t.driver.cpu)),
        "spark.executor.instances": str(t.executors.instances),
        "spark.executor.cores": str(spark_cores(t.executors.cpu)),
        "spark.executor.memory": spark_memory(t.executors.memory),
        **(extra_conf or {}),
    }
    if t.master.startswith("k8s://"):
        conf |= kubernetes_conf(spec, model)
        if t.service_account_name:  # only read in cluster mode; kept for a SparkApplication-style submit
            conf["spark.kubernetes.authenticate.driver.serviceAccountName"] = t.service_account_name
    conf |= t.spark_conf  # the user's settings win
    argv = [spark_submit, "--master", t.master, "--deploy-mode", "client"]
    for key in sorted(conf):
        argv += ["--conf", f"{key}={conf[key]}"]
    return [*argv, f"{jobs_dir.rstrip('/')}/{entry}", *job_args]


def build_spark_submit_argv(
    spec: ClickModelSpec,
    name: str,
    model_file: str,
    output: str,
    spark_submit: str = "spark-submit",
    *,
    jobs_dir: str = JOBS_DIR,
) -> list[str]:
    """argv of `spark-submit jobs/train.py` for a ClickModel: master, resources, image, then the job's flags."""
    args = ["--model-file", model_file, "--name", name, "--output", output]
    return spark_submit_argv(spec, f"clickcast-train-{name}", "train.py", args, model=name,
                             spark_submit=spark_submit, jobs_dir=jobs_dir)  # fmt: skip
