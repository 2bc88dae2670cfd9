"""The chart lints clean, its schema refuses bad values, and what it renders is what manifests/ says."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from tests.chart.conftest import CHART, HA_VALUES, Helm, by_kind, one
from tests.manifests import ROOT

pytestmark = pytest.mark.chart

RBAC = ROOT / "manifests" / "rbac"
VALUE_SETS = {"default": [], "ha-namespaced-monitoring": ["-f", str(HA_VALUES)]}


def manifest(path: str, kind: str) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((ROOT / path).read_text()) if d]
    return next(d for d in docs if d["kind"] == kind)


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
@pytest.mark.parametrize("strict", [False, True], ids=["lint", "lint-strict"])
def test_lint_is_clean(helm: Helm, values: list[str], strict: bool) -> None:
    out = helm.run("lint", str(CHART), *values, *(["--strict"] if strict else [])).stdout
    assert "0 chart(s) failed" in out
    assert not re.search(r"\[(WARNING|ERROR)\]", out), out


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("replicas=two", "/replicas"),
        ("operator.logFormat=xml", "/operator/logFormat"),
        ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
        ("images.registry=registry.example.com/team/", "/images/registry"),  # <registry>/<name>: no double slash
        ("replicaCount=2", "replicaCount"),  # an unknown key (a typo) is refused, not silently ignored
    ],
)
def test_schema_refuses_a_bad_value_with_a_clear_error(helm: Helm, setting: str, message: str) -> None:
    for command in (["lint", str(CHART)], ["template", "x", str(CHART)]):
        done = helm.run(*command, "--set", setting, check=False)
        assert done.returncode != 0, f"helm {command[0]} accepted {setting}"
        errors = done.stdout + done.stderr
        assert "schema" in errors and message in errors, errors


def test_settings_that_cannot_work_are_refused(helm: Helm) -> None:
    done = helm.run("template", "x", str(CHART), "--set", "rbac.namespaced=true", check=False)
    assert done.returncode != 0 and "rbac.namespaced needs watchNamespaces" in done.stderr
    done = helm.run("template", "x", str(CHART), "--set", "watchNamespaces={team-*}", check=False)
    assert done.returncode != 0 and "is a glob" in done.stderr


def test_default_install_is_cluster_wide_with_the_manifests_rules(helm: Helm) -> None:
    docs = helm.template()
    assert one(docs, "ClusterRole")["rules"] == manifest("manifests/rbac/operator.yaml", "ClusterRole")["rules"]
    binding = one(docs, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "clickcast", "namespace": "clickcast-system"}]
    assert one(docs, "ServiceAccount")["metadata"]["name"] == "clickcast"
    assert not by_kind(docs, "Role") and not by_kind(docs, "ClusterKopfPeering")
    for kind in ("ServiceMonitor", "PrometheusRule", "ConfigMap"):
        assert not by_kind(docs, kind), f"{kind} is opt-in"
    container = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["clickcast", "operator"]
    args = [
        "--liveness-port=8080",
        "--metrics-port=8000",
        "--workers=8",
        "--error-limit=3",
        "--git-schemes=https,ssh",
        "--log-format=json",
    ]
    assert container["args"] == args
    assert container["image"] == "ghcr.io/clickcast/operator:0.1.0"


def images(docs: list[dict[str, Any]]) -> dict[str, str]:
    """The operator's image and the two it gives ClickModels that name none (the helm test pod's too)."""
    container = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    (test_pod,) = [d for d in by_kind(docs, "Pod") if "helm.sh/hook" in d["metadata"].get("annotations", {})]
    assert test_pod["spec"]["containers"][0]["image"] == container["image"], "helm test runs the operator image"
    return {"operator": container["image"], "jobs": env["CLICKCAST_JOBS_IMAGE"],
            "serving": env["CLICKCAST_SERVING_IMAGE"]}  # fmt: skip


def test_the_default_images_are_the_released_ones_at_the_charts_app_version(helm: Helm) -> None:
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert images(helm.template()) == {name: f"ghcr.io/clickcast/{name}:{app_version}"
                                       for name in ("operator", "jobs", "serving")}  # fmt: skip


def test_one_registry_value_moves_all_three_images(helm: Helm) -> None:
    moved = images(helm.template("--set", "images.registry=registry.example.com/team"))
    assert moved == {name: f"registry.example.com/team/{name}:0.1.0" for name in ("operator", "jobs", "serving")}
    tagged = images(helm.template("--set", "images.registry=localhost:5000/ml", "--set", "images.tag=dev"))
    assert tagged == {name: f"localhost:5000/ml/{name}:dev" for name in ("operator", "jobs", "serving")}


def test_each_image_can_still_be_overridden_on_its_own(helm: Helm) -> None:
    docs = helm.template(
        "--set", "images.registry=registry.example.com/team",
        "--set", "image.repository=mirror.example.com/clickcast-operator", "--set", "image.tag=1.0.1",
        "--set", "images.serving=registry.example.com/team/serving@sha256:" + "ab" * 32,
    )  # fmt: skip
    assert images(docs) == {
        "operator": "mirror.example.com/clickcast-operator:1.0.1",  # image.* as before images existed
        "jobs": "registry.example.com/team/jobs:0.1.0",
        "serving": "registry.example.com/team/serving@sha256:" + "ab" * 32,
    }


def test_namespaced_ha_install_has_a_role_per_namespace_and_peers(helm: Helm) -> None:
    docs = helm.template("-f", str(HA_VALUES))
    assert not by_kind(docs, "ClusterRole") and not by_kind(docs, "ClusterRoleBinding")
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]): r["rules"] for r in by_kind(docs, "Role")}
    operator_rules = manifest("manifests/rbac/operator-namespaced.yaml", "Role")["rules"]
    peering_rules = [
        r for r in manifest("manifests/rbac/operator-peering.yaml", "ClusterRole")["rules"]
        if "kopfpeerings" in r["resources"]
    ]  # fmt: skip
    assert roles == {
        ("ads", "clickcast"): operator_rules,
        ("ranking", "clickcast"): operator_rules,
        ("ads", "clickcast-peering"): peering_rules,
        ("ranking", "clickcast-peering"): peering_rules,
    }
    bindings = by_kind(docs, "RoleBinding")
    assert {(b["metadata"]["namespace"], b["roleRef"]["name"]) for b in bindings} == set(roles)
    assert {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in by_kind(docs, "KopfPeering")} == {
        ("ads", "clickcast"),
        ("ranking", "clickcast"),
    }
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][-3:] == ["--namespace=ads", "--namespace=ranking", "--peering=clickcast"]
    # Equal kopf priorities would pause every peer: each takes one from its pod name, then execs the operator.
    assert container["command"][:2] == ["/bin/sh", "-c"] and "exec clickcast operator" in container["command"][2]


def test_cluster_wide_peering_has_the_manifests_rules(helm: Helm) -> None:
    docs = helm.template("--set", "replicas=2")
    roles = {r["metadata"]["name"]: r["rules"] for r in by_kind(docs, "ClusterRole")}
    assert roles["clickcast-peering"] == manifest("manifests/rbac/operator-peering.yaml", "ClusterRole")["rules"]
    assert one(docs, "ClusterKopfPeering")["metadata"]["name"] == "clickcast"


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_operator_pod_is_restricted(helm: Helm, values: list[str]) -> None:
    """The Pod Security Standards' `restricted` profile, field by field, plus a read-only root filesystem."""
    pod = one(helm.template(*values), "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["containers"]:
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"healthz": 8080, "metrics": 8000}
        env = {e["name"]: e.get("value") for e in container["env"]}
        writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
        # Every path the operator writes is an emptyDir: the GitOps clones and /tmp (its store credentials,
        # when given, are a read-only Secret volume).
        assert env["CLICKCAST_GIT_CACHE"].startswith("/var/cache/clickcast/")
        assert writable == {"/tmp", "/var/cache/clickcast"}
    assert all("emptyDir" in v or set(v) == {"name", "secret"} for v in pod["volumes"])


def test_prometheus_rule_carries_the_manifests_rules_untemplated(helm: Helm) -> None:
    rule = one(helm.template("-f", str(HA_VALUES)), "PrometheusRule")
    source = yaml.safe_load((ROOT / "manifests" / "monitoring" / "prometheus-rules.yaml").read_text())
    assert rule["spec"] == source["spec"]
    assert "{{ $labels.namespace }}" in json.dumps(rule)  # Prometheus' templates, not Helm's


def test_monitoring_objects_are_well_formed(helm: Helm) -> None:
    """Schema-checked here, not by the API server (no Prometheus Operator CRDs on the test cluster)."""
    docs = helm.template("-f", str(HA_VALUES))
    monitor, service = one(docs, "ServiceMonitor"), one(docs, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert service["spec"]["selector"] == monitor["spec"]["selector"]["matchLabels"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert re.fullmatch(r"\d+[smh]", endpoint["interval"]) and endpoint["honorLabels"] is True
    rule = one(docs, "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    for group in rule["spec"]["groups"]:
        assert set(group) == {"name", "rules"}
        for r in group["rules"]:
            assert set(r) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
            assert isinstance(r["expr"], str) and isinstance(r["alert"], str)


DASHBOARD_METRICS = [
    "clickcast_model_healthy",
    "clickcast_model_quality_deviance_ratio",
    "clickcast_model_quality_cusum",
    "clickcast_canary_deviance_ratio",
    "clickcast_canary_observations",
    "clickcast_releases_total",
    "clickcast_operator_reconcile_duration_seconds",
    "clickcast_operator_phase_duration_seconds",
    "clickcast_operator_transitions_total",
]


def test_grafana_dashboard_has_a_panel_per_metric(helm: Helm) -> None:
    configmap = one(helm.template("-f", str(HA_VALUES)), "ConfigMap")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(configmap["data"]["clickcast.json"])
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    for metric in DASHBOARD_METRICS:
        assert any(metric in e for e in exprs), f"no panel on {metric}"
    assert any("bound" in e or "{{bound}}" in t["legendFormat"] for p in dashboard["panels"] for t in p["targets"]
               for e in [t["expr"]] if "canary_deviance_ratio" in e)  # fmt: skip
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_helm_test_hook_checks_the_crd_and_healthz(helm: Helm) -> None:
    pod = next(d for d in helm.template() if d["kind"] == "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = pod["spec"]["containers"][0]["args"][0]
    assert "/apis/clickcast.io/v1alpha1" in script and "http://clickcast.clickcast-system.svc:8080/healthz" in script
    compile(script, "helm-test", "exec")  # the check itself is valid Python


def test_notes_name_the_install(helm: Helm) -> None:
    out = helm.run("install", "clickcast", str(CHART), "--dry-run=client", "--namespace", "clickcast-system").stdout
    assert "every namespace (ClusterRole)" in out and "helm test clickcast" in out


def test_the_operators_own_store_credentials_are_a_mounted_secret(helm: Helm) -> None:
    plain = one(helm.template(), "Deployment")["spec"]["template"]["spec"]
    assert "storage" not in {v["name"] for v in plain["volumes"]}
    spec = one(helm.template("-f", str(HA_VALUES)), "Deployment")["spec"]["template"]["spec"]
    assert {"name": "storage", "secret": {"secretName": "clickcast-store", "defaultMode": 0o400}} in spec["volumes"]
    container = spec["containers"][0]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "storage")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CLICKCAST_STORAGE_OPTIONS"] == mount["mountPath"] and mount["readOnly"] is True
