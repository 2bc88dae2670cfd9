"""Invalid ClickModel variants shared by the offline and the API-server tests.

Each case changes one thing in the minimal sample; `field` is the path the
error must name, both from `clickcast validate` and from the API server.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "manifests" / "samples").glob("*.yaml"))
MINIMAL = yaml.safe_load((ROOT / "manifests" / "samples" / "clickmodel-minimal.yaml").read_text())


@dataclass(frozen=True)
class Invalid:
    id: str
    set: dict[str, Any]  # dotted path -> value; None deletes
    field: str
    server_side: bool = True  # False: a rule only the offline validator can check exactly


def build(case: Invalid) -> dict[str, Any]:
    doc = copy.deepcopy(MINIMAL)
    for dotted, value in case.set.items():
        *parents, leaf = dotted.split(".")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return doc


INVALID = [
    Invalid("wrong-type", {"spec.serving.replicas": "three"}, "spec.serving.replicas"),
    Invalid("unknown-enum", {"spec.canary.mode": "blue-green"}, "spec.canary.mode"),
    Invalid("unknown-algorithm", {"spec.algorithm.name": "lightgbm"}, "spec.algorithm.name"),
    Invalid("bad-cron-range", {"spec.training.schedule": "61 * * * *"}, "spec.training.schedule", server_side=False),
    Invalid("bad-cron-shape", {"spec.training.schedule": "every day"}, "spec.training.schedule"),
    Invalid("descending-weights", {"spec.canary.steps": [50, 25]}, "spec.canary.steps"),
    Invalid("duplicate-weights", {"spec.canary.steps": [10, 10, 50]}, "spec.canary.steps"),
    Invalid("weight-out-of-range", {"spec.canary.steps": [0, 50]}, "spec.canary.steps[0]"),
    Invalid("split-without-steps", {"spec.canary.steps": []}, "spec.canary.steps"),
    Invalid("negative-threshold", {"spec.validation.absolute.maxMae": -1}, "spec.validation.absolute.maxMae"),
    Invalid(
        "calibration-inverted",
        {"spec.validation.absolute.minCalibration": 1.2},
        "spec.validation.absolute.minCalibration",
    ),
    Invalid("missing-data-source", {"spec.data": None}, "spec.data"),
    Invalid("missing-store", {"spec.store": None}, "spec.store"),
    Invalid("relative-data-url", {"spec.data.url": "data/clicks"}, "spec.data.url"),
    Invalid("unknown-field", {"spec.canary.stepz": [10]}, "spec.canary.stepz"),
    Invalid("bad-duration", {"spec.canary.interval": "10 minutes"}, "spec.canary.interval"),
    Invalid("confidence-above-one", {"spec.canary.confidenceLevel": 1.5}, "spec.canary.confidenceLevel"),
    Invalid("approval-in-automatic-mode", {"spec.promotion.approvedVersion": "v1"}, "spec.promotion.approvedVersion"),
    Invalid(
        "auto-retrain-without-detector",
        {
            "spec.monitoring.autoRetrain": True,
            "spec.monitoring.drop.enabled": False,
            "spec.monitoring.erosion.enabled": False,
        },
        "spec.monitoring.autoRetrain",
    ),
    Invalid(
        "spark-conf-mounts-a-secret",
        {"spec.training.sparkConf": {"spark.kubernetes.executor.secrets.db-password": "/secrets"}},
        "spec.training.sparkConf",
    ),
    *(
        Invalid(f"spark-conf-{case}", {"spec.training.sparkConf": {key: value}}, "spec.training.sparkConf")
        for case, key, value in [
            ("kerberos-token-secret", "spark.kubernetes.kerberos.tokenSecret.name", "team-keytab"),
            ("hadoop-config-map", "spark.kubernetes.hadoop.configMapName", "team-hadoop"),
            ("krb5-config-map", "spark.kubernetes.kerberos.krb5.configMapName", "team-krb5"),
            ("master", "spark.master", "k8s://https://elsewhere.test"),
            ("driver-api-server", "spark.kubernetes.driver.master", "https://elsewhere.test"),
            ("executor-image", "spark.kubernetes.executor.container.image", "evil.test/miner:1"),
            ("image", "spark.kubernetes.container.image", "evil.test/miner:1"),
        ]
    ),
    Invalid("batch-without-scoring", {"spec.serving.enabled": False}, "spec.scoring"),
    Invalid("bad-quantity", {"spec.serving.resources.memory": "lots"}, "spec.serving.resources.memory"),
]
