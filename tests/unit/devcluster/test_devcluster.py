"""The dev cluster's pure parts: kwokctl config and argv, stages, and the job runner's pod-to-command mapping."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from clickcast.cli.main import app
from clickcast.devcluster import binaries, kwok
from clickcast.devcluster.errors import DevClusterError
from clickcast.devcluster.jobrunner import (
    ContainerRun,
    JobRunnerError,
    PodRun,
    container_env,
    expand,
    pod_status_patch,
    workload,
)
from tests.manifests import ROOT

pytestmark = pytest.mark.unit
BIN = Path("/opt/k8s/bin")


def test_config_uses_local_binaries_loopback_and_rbac() -> None:
    head, *stages = yaml.safe_load_all(kwok.render_config(BIN, "v1.34.4"))
    assert head["kind"] == "KwokctlConfiguration"
    options = head["options"]
    assert options["runtime"] == "binary"
    assert options["bindAddress"] == "127.0.0.1"
    assert options["kubeAuthorization"] is True
    assert options["kubeVersion"] == "v1.34.4"
    binaries_ = {k: v for k, v in options.items() if k.endswith("Binary")}
    assert set(binaries_) == {
        "kubeApiserverBinary",
        "kubeControllerManagerBinary",
        "kubeSchedulerBinary",
        "kwokControllerBinary",
        "etcdBinary",
    }
    assert all(v.startswith(str(BIN) + "/") for v in binaries_.values()), "nothing may be downloaded"
    assert {s["kind"] for s in stages} == {"Stage"}


def test_stages_cover_nodes_and_pods_but_never_complete_pods() -> None:
    stages = [s for s in yaml.safe_load_all(kwok.stages()) if s]
    kinds = {s["spec"]["resourceRef"]["kind"] for s in stages}
    assert kinds == {"Node", "Pod"}  # ours replace all of kwok's defaults, node stages included
    templates = " ".join(s["spec"]["next"].get("statusTemplate", "") for s in stages)
    assert "phase: Running" in templates
    assert "Succeeded" not in templates and "Failed" not in templates  # Job pods finish only when told


def test_argv_never_touches_the_users_kubeconfig(tmp_path: Path) -> None:
    argv = kwok.create_argv("demo", tmp_path / "kwok.yaml", 60)
    assert argv[:3] == ["kwokctl", "create", "cluster"]
    assert argv[argv.index("--kubeconfig") + 1] == ""
    assert argv[argv.index("--config") + 1] == str(tmp_path / "kwok.yaml")
    delete = kwok.delete_argv("demo")
    assert delete[delete.index("--kubeconfig") + 1] == str(kwok.kubeconfig_path("demo"))


@pytest.mark.parametrize("name", ["", "Demo", "a_b", "-x", "x" * 41])
def test_bad_cluster_names_are_refused(name: str) -> None:
    with pytest.raises(DevClusterError, match="invalid cluster name"):
        kwok.check_name(name)


def test_kwokctl_json_errors_become_one_line() -> None:
    out = (
        '{"level":"INFO","msg":"Cluster is creating"}\n{"level":"ERROR","msg":"Failed to start","err":"port in use"}\n'
    )
    assert kwok.kwokctl_error(out) == "Failed to start: port in use"


def test_cli_errors_are_one_line_without_traceback() -> None:
    result = CliRunner().invoke(app, ["dev", "cluster", "kubeconfig", "--name", "Bad_Name"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: invalid cluster name 'Bad_Name': use 1-40 lowercase letters, digits and '-'"
    ]


def test_build_script_says_go_is_missing(tmp_path: Path) -> None:
    script = binaries.build_script()
    assert script == ROOT / "hack" / "build-control-plane.sh"
    # An empty PATH: the script needs nothing but bash builtins before it looks for Go.
    (tmp_path / "empty").mkdir()
    env = {"PATH": str(tmp_path / "empty"), "HOME": str(tmp_path), "CLICKCAST_BIN_DIR": str(tmp_path / "bin")}
    bash = shutil.which("bash")
    assert bash is not None
    proc = subprocess.run([bash, str(script)], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "error: Go is not installed" in proc.stderr


def test_explicit_bin_dir_is_used_without_building(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in binaries.REQUIRED:
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    monkeypatch.setenv(binaries.BIN_DIR_ENV, str(tmp_path))
    assert binaries.locate() == tmp_path


# --- job runner -------------------------------------------------------------------------------

CONFIGMAPS = {
    ("ConfigMap", "cfg"): {"train.yaml": "rounds: 3\n", "mode": "fast"},
    ("Secret", "creds"): {"token": "t0k"},
}


def lookup(kind: str, name: str) -> dict[str, str]:
    try:
        return CONFIGMAPS[(kind, name)]
    except KeyError:
        raise JobRunnerError(f"no {kind} {name}") from None


def pod(container: dict[str, Any], volumes: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    base = {"name": "main", "image": "ignored", "command": ["train"]}
    return {
        "metadata": {"name": "p-1", "namespace": "ns", "uid": "u-1", "labels": {"team": "ads"}},
        "spec": {"containers": [{**base, **container}], "volumes": volumes or [], **spec},
        "status": {"podIP": "10.0.0.9"},
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [("$(A)-$(B)", "1-$(B)"), ("$$(A)", "$(A)"), ("cost $$5", "cost $5"), ("$A", "$A")],
)
def test_expand_follows_kubernetes_rules(text: str, expected: str) -> None:
    assert expand(text, {"A": "1"}) == expected


def test_env_sources_and_order() -> None:
    container = {
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
        "env": [
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
            {"name": "TEAM", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['team']"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "MISSING", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nope", "optional": True}}},
            {"name": "BOTH", "value": "$(MODE)/$(TEAM)"},
        ],
    }
    env = container_env(pod(container), container, lookup)
    assert env == {
        "CFG_train.yaml": "rounds: 3\n",
        "CFG_mode": "fast",
        "MODE": "fast",
        "TOKEN": "t0k",
        "TEAM": "ads",
        "IP": "10.0.0.9",
        "BOTH": "fast/ads",
    }


def test_volumes_are_written_and_mount_paths_rewritten(tmp_path: Path) -> None:
    container = {
        "command": ["train", "--config=/etc/cc/train.yaml", "/etc/ccx/not-a-mount"],
        "args": ["--out", "/work/out/model.json"],
        "env": [{"name": "CFG", "value": "/etc/cc"}],
        "workingDir": "/work",
        "volumeMounts": [
            {"name": "cfg", "mountPath": "/etc/cc"},
            {"name": "scratch", "mountPath": "/work"},
            {"name": "api", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"},
        ],
    }
    volumes = [
        {"name": "cfg", "configMap": {"name": "cfg", "items": [{"key": "train.yaml", "path": "train.yaml"}]}},
        {"name": "scratch", "emptyDir": {}},
        {
            "name": "api",
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"path": "token"}},
                    {
                        "downwardAPI": {
                            "items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]
                        }
                    },
                ]
            },
        },
    ]
    work = workload(pod(container, volumes), tmp_path, lookup, base_env={"PATH": "/bin"})
    (command,) = work.main
    cfg, scratch = tmp_path / "volumes" / "cfg", tmp_path / "volumes" / "scratch"
    assert command.argv == [
        "train",
        f"--config={cfg}/train.yaml",
        "/etc/ccx/not-a-mount",
        "--out",
        f"{scratch}/out/model.json",
    ]
    assert command.env == {"PATH": "/bin", "CFG": str(cfg)}
    assert command.cwd == scratch
    assert (cfg / "train.yaml").read_text() == "rounds: 3\n"
    assert not (cfg / "mode").exists()  # only the listed items
    assert (tmp_path / "volumes" / "api" / "namespace").read_text() == "ns"


@pytest.mark.parametrize(
    ("container", "volumes", "message"),
    [
        ({"command": []}, [], "has no command"),
        (
            {"volumeMounts": [{"name": "data", "mountPath": "/data"}]},
            [{"name": "data", "persistentVolumeClaim": {}}],
            "cannot be provided locally",
        ),
        ({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "nope"}}}]}, [], "has no key"),
        ({"env": [{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}]}, [], "not supported"),
    ],
    ids=["no-command", "pvc", "missing-key", "resource-field"],
)
def test_unrunnable_pods_are_refused_clearly(
    container: dict[str, Any], volumes: list[Any], message: str, tmp_path: Path
) -> None:
    with pytest.raises(JobRunnerError, match=message):
        workload(pod(container, volumes), tmp_path, lookup, base_env={})


def test_base_environment_defaults_to_this_process(tmp_path: Path) -> None:
    (command,) = workload(pod({}), tmp_path, lookup).main
    assert command.env["PATH"] == os.environ["PATH"]


def test_status_patch_reports_exit_codes_like_a_kubelet() -> None:
    spec = pod({}, initContainers=[{"name": "fetch", "image": "i", "command": ["x"]}])
    failed_init = PodRun("p-1", init=[ContainerRun("fetch", 2, "")])
    status = pod_status_patch(spec, failed_init, "2026-01-01T00:00:00Z")["status"]
    assert status["phase"] == "Failed"
    assert status["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 2
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert {c["type"]: c["status"] for c in status["conditions"]}["Initialized"] == "False"

    ok = PodRun("p-1", init=[ContainerRun("fetch", 0, "")], main=[ContainerRun("main", 0, "done\n")])
    status = pod_status_patch(spec, ok, "2026-01-01T00:00:00Z")["status"]
    assert status["phase"] == "Succeeded"
    assert status["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions == {"PodScheduled": "True", "Initialized": "True", "ContainersReady": "False", "Ready": "False"}


def test_a_failed_container_reports_its_log_tail_when_asked_to() -> None:
    spec = pod({"terminationMessagePolicy": "FallbackToLogsOnError"})
    output = "".join(f"line {i}\n" for i in range(200)) + "ContractError: no rows\n"
    failed = pod_status_patch(spec, PodRun("p-1", main=[ContainerRun("main", 1, output)]), "2026-01-01T00:00:00Z")
    message = failed["status"]["containerStatuses"][0]["state"]["terminated"]["message"]
    assert message.endswith("ContractError: no rows")
    assert len(message.splitlines()) == 80
    silent = pod_status_patch(pod({}), PodRun("p-1", main=[ContainerRun("main", 1, output)]), "2026-01-01T00:00:00Z")
    assert "message" not in silent["status"]["containerStatuses"][0]["state"]["terminated"]
