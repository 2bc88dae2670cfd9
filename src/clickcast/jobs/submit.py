"""The spark-submit command line of a training run (the operator's Job backend runs it in the jobs image)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from clickcast.api.spec import ClickModelSpec

JOBS_DIR = "/opt/clickcast/jobs"
"""Where the jobs image keeps the entry files (jobs/Dockerfile)."""

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


def spark_submit_argv(
    spec: ClickModelSpec,
    app_name: str,
    entry: str,
    job_args: Sequence[str],
    *,
    spark_submit: str = "spark-submit",
    jobs_dir: str = JOBS_DIR,
    extra_conf: Mapping[str, str] | None = None,
) -> list[str]:
    """argv of `spark-submit <jobs_dir>/<entry> <job_args>` for a ClickModel: master, resources, image."""
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
        conf |= {
            "spark.kubernetes.container.image": t.image,
            "spark.kubernetes.executor.request.cores": t.executors.cpu,
            "spark.kubernetes.driver.request.cores": t.driver.cpu,
        }
        if t.service_account_name:
            conf["spark.kubernetes.authenticate.driver.serviceAccountName"] = t.service_account_name
    conf |= t.spark_conf  # the user's settings win
    argv = [spark_submit, "--master", t.master, "--deploy-mode", "client"]
    for key in sorted(conf):
        argv += ["--conf", f"{key}={conf[key]}"]
    return [*argv, f"{jobs_dir.rstrip('/')}/{entry}", *job_args]


def build_spark_submit_argv(
    spec: ClickModelSpec, name: str, model_file: str, output: str, spark_submit: str = "spark-submit"
) -> list[str]:
    """argv of `spark-submit jobs/train.py` for a ClickModel: master, resources, image, then the job's flags."""
    args = ["--model-file", model_file, "--name", name, "--output", output]
    return spark_submit_argv(spec, f"clickcast-train-{name}", "train.py", args, spark_submit=spark_submit)
