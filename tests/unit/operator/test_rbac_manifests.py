"""The namespaced RBAC stays the cluster-wide one minus what only a cluster-wide watch needs."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.manifests import ROOT

pytestmark = pytest.mark.unit
CLUSTER_ONLY = {"customresourcedefinitions", "namespaces"}


def kinds(path: str) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in yaml.safe_load_all((ROOT / "manifests" / "rbac" / path).read_text()) if d}


def test_namespaced_role_has_the_cluster_roles_rules_but_the_cluster_only_ones() -> None:
    cluster, namespaced = kinds("operator.yaml")["ClusterRole"], kinds("operator-namespaced.yaml")["Role"]
    expected = [r for r in cluster["rules"] if not set(r["resources"]) & CLUSTER_ONLY]
    assert namespaced["rules"] == expected
    assert len(expected) == len(cluster["rules"]) - 2


def test_no_rule_lets_the_operator_touch_secrets_beyond_one_name_or_create_bare_pods() -> None:
    for path in ("operator.yaml", "operator-namespaced.yaml"):
        role = next(d for k, d in kinds(path).items() if k in ("ClusterRole", "Role"))
        for rule in role["rules"]:
            if "secrets" in rule["resources"]:
                assert rule["resourceNames"] == ["clickcast-gitops"]
                assert rule["verbs"] == ["get"]
            if "pods" in rule["resources"]:
                assert set(rule["verbs"]) <= {"get", "list", "watch"}
            assert "*" not in rule["verbs"] and "*" not in rule["resources"]
