"""The container mode's pure part: from a pod spec to `podman run`, as a kubelet would ask a runtime."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from clickcast.devcluster import containers
from clickcast.devcluster.jobrunner import JobRunnerError

pytestmark = pytest.mark.unit
ENGINE = containers.Engine("/usr/bin/podman", "/usr/sbin/runc", "/state", podnet=Path("/podnet"),
                           network_dir=Path("/state/net"))  # fmt: skip
SECRETS = {("Secret", "creds"): {"AWS_SECRET_ACCESS_KEY": "s3cr3t"}, ("ConfigMap", "cfg"): {"MODE": "fast"}}


def lookup(kind: str, name: str) -> dict[str, str]:
    return SECRETS[(kind, name)]


def pod(container: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "offers-stable-1", "namespace": "ads", "uid": "0123456789abcdef"},
        "spec": {"containers": [container], **spec},
        "status": {"podIP": "127.3.0.7"},
    }


def run(p: dict[str, Any], volumes: dict[str, Path] | None = None, image_user: str = "10001") -> Any:
    return containers.run_command(ENGINE, p, p["spec"]["containers"][0], volumes=volumes or {},
                                  env={"KUBERNETES_SERVICE_HOST": "127.0.0.1"}, lookup=lookup,
                                  image_user=image_user, address="127.3.0.7",
                                  host_env={"PATH": "/usr/bin"})  # fmt: skip


def flags(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]


def test_the_image_runs_as_given_with_its_entrypoint_unless_the_container_names_a_command() -> None:
    plain = run(pod({"name": "serve", "image": "ghcr.io/clickcast/serving:0.1.0", "args": ["--port", "$(PORT)"],
                     "env": [{"name": "PORT", "value": "3000"}]}))  # fmt: skip
    assert plain.argv[:3] == ["/usr/bin/podman", "--runtime", "/usr/sbin/runc"]
    assert "--entrypoint" not in plain.argv
    assert flags(plain.argv, "--add-host") == ["offers-stable-1:127.3.0.7"]  # its /etc/hosts, as the kubelet's
    assert plain.argv[-3:] == ["ghcr.io/clickcast/serving:0.1.0", "--port", "3000"]  # $(VAR) expanded, as k8s does
    own = run(pod({"name": "train", "image": "jobs", "command": ["spark-submit", "$(JOB)"],
                   "env": [{"name": "JOB", "value": "train.py"}]}))  # fmt: skip
    assert json.loads(flags(own.argv, "--entrypoint")[0]) == ["spark-submit", "train.py"]
    assert own.argv[-1] == "jobs"


def test_variables_travel_by_name_so_no_secret_is_on_a_command_line() -> None:
    mode = {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "MODE"}}}
    command = run(pod({"name": "c", "image": "i", "envFrom": [{"secretRef": {"name": "creds"}}], "env": [mode]}))
    assert "s3cr3t" not in " ".join(command.argv)
    names = flags(command.argv, "--env")
    assert {"AWS_SECRET_ACCESS_KEY", "MODE", "KUBERNETES_SERVICE_HOST", "CLICKCAST_POD_IP"} <= set(names)
    assert all("=" not in n for n in names)
    assert command.env["AWS_SECRET_ACCESS_KEY"] == "s3cr3t" and command.env["CLICKCAST_POD_IP"] == "127.3.0.7"
    assert command.env["PATH"] == "/usr/bin"  # podman's own, not passed on: PATH is not among the names
    assert "PATH" not in names
    assert command.env["PYTHONPATH"] == containers.PODNET_MOUNT


def test_a_pods_value_of_a_variable_podman_reads_goes_on_the_command_line_not_into_podmans_environment() -> None:
    # A Spark Job sets TMPDIR=/scratch (its emptyDir): in podman's environment podman wrote its own temporary
    # files there and failed ("checking platform of image ...: open /scratch/...: no such file or directory").
    env = [{"name": "TMPDIR", "value": "/scratch"}, {"name": "XDG_CACHE_HOME", "value": "/scratch"},
           {"name": "PATH", "value": "/opt/venv/bin"}]  # fmt: skip
    command = run(pod({"name": "spark", "image": "jobs", "env": env}))
    names = flags(command.argv, "--env")
    assert {"TMPDIR=/scratch", "XDG_CACHE_HOME=/scratch", "PATH=/opt/venv/bin"} <= set(names)
    assert "TMPDIR" not in command.env and "XDG_CACHE_HOME" not in command.env
    assert command.env["PATH"] == "/usr/bin"  # podman's own


def test_security_context_the_containers_over_the_pods() -> None:
    ctx = {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False, "runAsUser": 185,
           "capabilities": {"drop": ["ALL"]}}  # fmt: skip
    command = run(pod({"name": "c", "image": "i", "securityContext": ctx},
                      securityContext={"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 2000}))  # fmt: skip
    argv = command.argv
    assert flags(argv, "--user") == ["185"] and flags(argv, "--group-add") == ["2000"]
    assert "--read-only" in argv and "--read-only-tmpfs=false" in argv  # only emptyDirs are writable
    assert flags(argv, "--cap-drop") == ["ALL"] and flags(argv, "--security-opt") == ["no-new-privileges"]
    assert "--network=host" in argv and "--http-proxy=false" in argv and "--pull=never" in argv
    assert flags(argv, "--label")[0] == f"{containers.MARK_LABEL}=/state"
    assert flags(argv, "--ulimit") == list(containers.ULIMITS)


@pytest.mark.parametrize(
    ("image_user", "pod_ctx", "refused"),
    [
        ("10001", {"runAsNonRoot": True}, None),
        ("", {"runAsNonRoot": True}, "image will run as root"),
        ("root", {"runAsNonRoot": True}, "image will run as root"),
        ("spark", {"runAsNonRoot": True}, "non-numeric user"),
        ("", {"runAsNonRoot": True, "runAsUser": 0}, "runAsUser 0"),
        ("", {"runAsNonRoot": True, "runAsUser": 185}, None),
        ("", {}, None),
    ],
    ids=["numeric-image-user", "no-user", "root", "named-user", "uid-0", "explicit-uid", "not-required"],
)
def test_run_as_non_root_is_checked_against_the_image_as_the_kubelet_does(
    image_user: str, pod_ctx: dict[str, Any], refused: str | None
) -> None:
    p = pod({"name": "c", "image": "i"}, securityContext=pod_ctx)
    if refused is None:
        run(p, image_user=image_user)
    else:
        with pytest.raises(JobRunnerError, match=refused):
            run(p, image_user=image_user)


def test_mounts_are_read_only_for_secrets_and_where_the_mount_says() -> None:
    volumes = {"creds": Path("/v/creds"), "tmp": Path("/v/tmp"), "data": Path("/v/data")}
    mounts = [{"name": "creds", "mountPath": "/etc/creds"}, {"name": "tmp", "mountPath": "/tmp"},
              {"name": "data", "mountPath": "/data/x", "subPath": "x", "readOnly": True}]  # fmt: skip
    spec_volumes = [{"name": "creds", "secret": {"secretName": "creds"}}, {"name": "tmp", "emptyDir": {}},
                    {"name": "data", "emptyDir": {}}]  # fmt: skip
    command = run(pod({"name": "c", "image": "i", "volumeMounts": mounts}, volumes=spec_volumes), volumes)
    assert flags(command.argv, "--volume")[:3] == ["/v/creds:/etc/creds:ro", "/v/tmp:/tmp:rw", "/v/data/x:/data/x:ro"]
    with pytest.raises(JobRunnerError, match="unknown volume"):
        run(pod({"name": "c", "image": "i", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]}))


def test_volume_files_get_the_kubelets_modes_and_fs_group(tmp_path: Path) -> None:
    creds, scratch = tmp_path / "creds", tmp_path / "scratch"
    (creds / "sub").mkdir(parents=True)
    (creds / "key").write_text("k")
    (creds / "sub" / "cert").write_text("c")
    scratch.mkdir()
    spec = {"securityContext": {"fsGroup": 4242}, "volumes": [
        {"name": "creds", "secret": {"secretName": "creds", "defaultMode": 0o400,
                                     "items": [{"key": "cert", "path": "sub/cert", "mode": 0o600}]}},
        {"name": "scratch", "emptyDir": {}}]}  # fmt: skip
    containers.own_volumes({"spec": spec}, {"creds": creds, "scratch": scratch})
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(creds / "key") == 0o440 and (creds / "key").stat().st_gid == 4242  # group-readable by fsGroup
    assert mode(creds / "sub" / "cert") == 0o640
    assert mode(scratch) == 0o2777 and scratch.stat().st_gid == 4242  # writable, new files in fsGroup's group
    containers.own_volumes({"spec": {"volumes": spec["volumes"]}}, {"creds": creds, "scratch": scratch})
    assert mode(creds / "key") == 0o400 and mode(scratch) == 0o777  # without fsGroup: the modes as given


def test_names_are_unique_per_pod_instance_and_exec_probes_run_inside() -> None:
    p = pod({"name": "serve", "image": "i"})
    name = containers.container_name(p, "serve")
    assert name == "k8s_serve_offers-stable-1_ads_01234567"
    assert containers.exec_prefix(ENGINE, name)[-2:] == ["exec", name]
    assert containers.leftovers_argv(ENGINE)[-2:] == ["--filter", f"label={containers.MARK_LABEL}=/state"]
