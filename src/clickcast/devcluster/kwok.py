"""Start, stop and inspect a kwok cluster (binary runtime) built from local binaries.

kwokctl runs etcd, kube-apiserver (RBAC on), kube-controller-manager,
kube-scheduler and kwok-controller as plain processes bound to 127.0.0.1 on
free ports, under `$KWOK_WORKDIR/clusters/<name>/` (default `~/.kwok`).
Every binary is given as a local path, so nothing is downloaded at run time.
The argv and config builders are pure functions; the rest runs kwokctl.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from clickcast.devcluster.binaries import kubectl
from clickcast.devcluster.errors import DevClusterError

DEFAULT_NAME = "clickcast"
DEFAULT_NODES = 3
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")

Say = Callable[[str], None]


@dataclass(frozen=True)
class ClusterStatus:
    name: str
    exists: bool
    ready: bool
    detail: str  # the API server's /readyz answer or why it could not be asked
    kubeconfig: Path


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise DevClusterError(f"invalid cluster name {name!r}: use 1-40 lowercase letters, digits and '-'")
    return name


def workdir() -> Path:
    return Path(os.environ.get("KWOK_WORKDIR") or Path.home() / ".kwok")


def kubeconfig_path(name: str) -> Path:
    """kwokctl writes an admin kubeconfig (client certificate) for each cluster here."""
    return workdir() / "clusters" / name / "kubeconfig.yaml"


POD_RUNNING_STAGE = "clickcast-pod-running"
"""The stage that fakes a running, ready pod; left out when the workload runner plays the kubelet."""


def stages(workloads: bool = False) -> str:
    """Our KWOK stages; with `workloads`, KWOK leaves pod status to the workload runner (it only deletes pods)."""
    text = resources.files("clickcast.devcluster").joinpath("stages.yaml").read_text(encoding="utf-8")
    if not workloads:
        return text
    docs = [doc for doc in yaml.safe_load_all(text) if doc["metadata"]["name"] != POD_RUNNING_STAGE]
    return yaml.safe_dump_all(docs, sort_keys=False)


def has_workloads(name: str) -> bool | None:
    """Whether the cluster was created for the workload runner (its stages leave pods to it); None: unknown."""
    config = workdir() / "clusters" / name / "kwok.yaml"
    if not config.is_file():
        return None
    return POD_RUNNING_STAGE not in config.read_text(encoding="utf-8")


def render_config(bin_dir: Path, kube_version: str, workloads: bool = False) -> str:
    """The kwokctl config: local binaries, loopback only, and our stages (which replace kwok's defaults)."""
    options = {
        "runtime": "binary",
        "bindAddress": "127.0.0.1",
        "kubeVersion": kube_version,
        "kubeAuthorization": True,  # --authorization-mode=Node,RBAC
        "kubeApiserverBinary": str(bin_dir / "kube-apiserver"),
        "kubeControllerManagerBinary": str(bin_dir / "kube-controller-manager"),
        "kubeSchedulerBinary": str(bin_dir / "kube-scheduler"),
        "kwokControllerBinary": str(bin_dir / "kwok"),
        "etcdBinary": str(bin_dir / "etcd"),
    }
    head = {"apiVersion": "config.kwok.x-k8s.io/v1alpha1", "kind": "KwokctlConfiguration", "options": options}
    return yaml.safe_dump(head, sort_keys=False) + "---\n" + stages(workloads)


def create_argv(name: str, config: Path, wait_seconds: int) -> list[str]:
    # --kubeconfig "": do not merge the cluster into ~/.kube/config or switch its current context.
    return [
        "kwokctl",
        "create",
        "cluster",
        "--name",
        name,
        "--config",
        str(config),
        "--kubeconfig",
        "",
        "--wait",
        f"{wait_seconds}s",
    ]


def start_argv(name: str, wait_seconds: int) -> list[str]:
    return ["kwokctl", "start", "cluster", "--name", name, "--wait", f"{wait_seconds}s"]


def scale_argv(name: str, nodes: int) -> list[str]:
    return ["kwokctl", "scale", "node", "--name", name, "--replicas", str(nodes)]


def delete_argv(name: str) -> list[str]:
    # delete rejects an empty --kubeconfig; the cluster's own file is harmless to "clean" (it is deleted next).
    return ["kwokctl", "delete", "cluster", "--name", name, "--kubeconfig", str(kubeconfig_path(name))]


def environment(bin_dir: Path) -> dict[str, str]:
    """kwokctl and the components it starts find each other (and kubectl) on PATH."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(bin_dir), str(kubectl().parent), env.get("PATH", "")])
    return env


def kube_version(bin_dir: Path) -> str:
    out = subprocess.run(
        [str(bin_dir / "kube-apiserver"), "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    match = re.search(r"v\d+\.\d+\.\d+", out)
    if match is None:
        raise DevClusterError(f"cannot read the version of {bin_dir / 'kube-apiserver'}: {out.strip()!r}")
    return match.group(0)


def kwokctl_error(output: str) -> str:
    """kwokctl logs JSON lines when not on a terminal; keep the error ones, readable."""
    errors = []
    for line in output.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            if line.strip():
                errors.append(line.strip())
            continue
        if isinstance(record, dict) and record.get("level") == "ERROR":
            errors.append(": ".join(str(record[k]) for k in ("msg", "err") if k in record))
    return "; ".join(errors[-3:]) or output.strip()[-300:]


def run(argv: list[str], bin_dir: Path, timeout: float = 300) -> str:
    proc = subprocess.run(
        argv,
        env=environment(bin_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise DevClusterError(f"`{' '.join(argv[:3])}` failed: {kwokctl_error(proc.stdout)}")
    return proc.stdout


def clusters(bin_dir: Path) -> list[str]:
    return run(["kwokctl", "get", "clusters"], bin_dir).split()


def readyz(name: str, timeout: int = 5) -> tuple[bool, str]:
    config = kubeconfig_path(name)
    if not config.is_file():
        return False, f"no kubeconfig at {config}"
    proc = subprocess.run(
        [str(kubectl()), "--kubeconfig", str(config), f"--request-timeout={timeout}s", "get", "--raw", "/readyz"],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout + 5,
    )
    answer = (proc.stdout or proc.stderr).strip().splitlines()
    return proc.returncode == 0 and proc.stdout.strip() == "ok", answer[-1] if answer else "no answer"


def status(name: str, bin_dir: Path) -> ClusterStatus:
    check_name(name)
    exists = name in clusters(bin_dir)
    ready, detail = readyz(name) if exists else (False, "no such cluster")
    return ClusterStatus(name, exists, ready, detail, kubeconfig_path(name))


def wait_nodes_ready(name: str, bin_dir: Path, timeout: int) -> None:
    argv = ["kubectl", "--kubeconfig", str(kubeconfig_path(name)), "wait", "--for=condition=Ready", "nodes", "--all"]
    run([*argv, f"--timeout={timeout}s"], bin_dir, timeout=timeout + 10)


def up(
    name: str,
    bin_dir: Path,
    nodes: int = DEFAULT_NODES,
    wait_seconds: int = 120,
    say: Say = print,
    *,
    workloads: bool | None = False,
) -> Path:
    """Create (or restart) the cluster, add `nodes` KWOK nodes, and return its kubeconfig path.

    `workloads`: KWOK does not make pods Running or Ready; the workload runner (workloads.py) does, from
    processes it really runs. False: KWOK reports every scheduled pod Running and Ready at once. None: an
    existing cluster stays as it was created, a new one gets the workload runner's stages.
    """
    check_name(name)
    started = time.monotonic()
    if name in clusters(bin_dir):
        made = has_workloads(name)
        if workloads is not None and made is not None and made != workloads:
            how = "for the workload runner" if made else "without the workload runner"
            raise DevClusterError(
                f"cluster {name} was created {how}; delete it first (`clickcast dev cluster down --name {name}`)"
            )
        ready, _ = readyz(name)
        if ready:
            say(f"cluster {name} is already running")
            return kubeconfig_path(name)
        say(f"starting the existing cluster {name}")
        run(start_argv(name, wait_seconds), bin_dir, timeout=wait_seconds + 30)
    else:
        version = kube_version(bin_dir)
        say(f"creating cluster {name} (Kubernetes {version}, binaries from {bin_dir})")
        with tempfile.TemporaryDirectory(prefix="clickcast-kwok-") as tmp:
            config = Path(tmp) / "kwok.yaml"
            config.write_text(render_config(bin_dir, version, workloads is not False), encoding="utf-8")
            try:
                run(create_argv(name, config, wait_seconds), bin_dir, timeout=wait_seconds + 60)
            except DevClusterError:
                # Do not leave half-started processes behind.
                subprocess.run(delete_argv(name), env=environment(bin_dir), capture_output=True, check=False)
                raise
    say(f"adding {nodes} KWOK nodes")
    run(scale_argv(name, nodes), bin_dir)
    wait_nodes_ready(name, bin_dir, wait_seconds)
    say(f"cluster {name} is ready in {time.monotonic() - started:.1f}s; kubeconfig: {kubeconfig_path(name)}")
    return kubeconfig_path(name)


def down(name: str, bin_dir: Path, say: Say = print) -> bool:
    """Stop every process of the cluster and delete its directory; False if there was no such cluster."""
    check_name(name)
    if name not in clusters(bin_dir):
        say(f"no cluster named {name}")
        return False
    run(delete_argv(name), bin_dir)
    say(f"cluster {name} deleted")
    return True
