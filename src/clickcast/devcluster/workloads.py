"""The workload runner of a dev cluster: one detached process that plays the kubelet for every pod.

`clickcast dev cluster up` creates the cluster with KWOK stages that leave pod
status alone (kwok.up(workloads=True)) and starts this runner beside it
(`start`); `clickcast dev cluster down` stops it and every process it started
(`stop`) before deleting the cluster. Its state lives with the cluster's, in
`<kwok workdir>/clusters/<name>/workloads/`: `runner.pid`, `runner.log`, the
pods' logs (`<namespace>/<pod>.log`) and scratch directories (`pods/`), and
`processes` (the process groups it has running, for `stop` to clean up after
a runner that was killed).

`serve` is the runner itself (`clickcast dev cluster workloads`): a PodRunner
over all namespaces, each pod on its own loopback address, the cluster's admin
credentials for its own work (pod status, TokenRequest) and never for the pods'.
It runs pods in one of two runtimes, chosen when the cluster is brought up and
kept in `runtime`:

- `processes` (the default, fast): each container as host processes of this
  checkout, through the image table (images.py);
- `containers`: each container from its image with podman and runc
  (containers.py), as a node would: the image's user and filesystem,
  securityContext, volumes as mounts. The images must be in local storage
  (`make images`); nothing is pulled.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from kubernetes import config

from clickcast.devcluster import containers, images, kubelet, kwok
from clickcast.devcluster.binaries import build_script
from clickcast.devcluster.errors import DevClusterError
from clickcast.devcluster.podrunner import PODNET, RUNNER_ENV, PodRunner

STOP_SECONDS = 30.0
RUNTIMES = ("processes", "containers")


def state_dir(name: str) -> Path:
    return kwok.workdir() / "clusters" / name / "workloads"


def claim_network(name: str) -> str:
    """This cluster's pod network, distinct from those of every other cluster in the workdir.

    Under a lock, so that runners starting at once (parallel test workers) see each other's claims;
    a claim lives in the cluster's state directory and goes with the cluster.
    """
    clusters = kwok.workdir() / "clusters"
    clusters.mkdir(parents=True, exist_ok=True)
    with (clusters / ".networks.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        own = state_dir(name) / "network"
        others = {p.read_text().strip() for p in clusters.glob("*/workloads/network") if p != own}
        network = kubelet.cluster_network(name, taken=others)
        own.parent.mkdir(parents=True, exist_ok=True)
        own.write_text(network)
    return network


def runtime_file(name: str) -> Path:
    return state_dir(name) / "runtime"


def runtime(name: str) -> str:
    """How the cluster's runner runs pods (`processes` unless it was brought up with `containers`)."""
    try:
        chosen = runtime_file(name).read_text().strip()
    except OSError:
        return RUNTIMES[0]
    return chosen if chosen in RUNTIMES else RUNTIMES[0]


def choose_runtime(name: str, chosen: str) -> None:
    if chosen not in RUNTIMES:
        raise DevClusterError(f"unknown runtime {chosen!r}: one of {', '.join(RUNTIMES)}")
    if chosen == "containers":
        engine(name)  # fail now, not in the detached runner, when podman or runc is missing
    runtime_file(name).parent.mkdir(parents=True, exist_ok=True)
    runtime_file(name).write_text(f"{chosen}\n")


def engine(name: str) -> containers.Engine:
    """The container mode's podman and runc (Debian packages), and what it mounts into every container."""
    podman, runc = shutil.which("podman"), shutil.which("runc")
    if podman is None or runc is None:
        raise DevClusterError("the containers runtime needs podman and runc (apt-get install podman runc)")
    state = state_dir(name)
    return containers.Engine(podman, runc, str(state), podnet=PODNET, network_dir=state / "net")


def pid_file(name: str) -> Path:
    return state_dir(name) / "runner.pid"


def log_file(name: str) -> Path:
    return state_dir(name) / "runner.log"


def pod_log(name: str, namespace: str, pod: str) -> Path:
    """Where the runner writes a pod's output (`kubectl logs` needs a kubelet; there is none)."""
    return state_dir(name) / namespace / f"{pod}.log"


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].splitlines()[0].lower()
    except (OSError, IndexError):
        return ""


def running_pid(name: str) -> int | None:
    """The runner's pid, if it is running."""
    try:
        pid = int(pid_file(name).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def start(name: str, argv: Sequence[str], wait_seconds: float = 30.0) -> int:
    """Start the runner (`argv` runs `serve(name)`) detached, unless it runs already; its pid.

    Waits until it has listed the cluster's pods once, so a caller can rely on it from then on.
    """
    if (pid := running_pid(name)) is not None:
        return pid
    state = state_dir(name)
    state.mkdir(parents=True, exist_ok=True)
    ready = state / "ready"
    ready.unlink(missing_ok=True)
    with log_file(name).open("ab") as log:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    pid_file(name).write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + wait_seconds
    while not ready.exists():
        if proc.poll() is not None:
            raise DevClusterError(f"the workload runner exited with {proc.returncode}; see {log_file(name)}")
        if time.monotonic() > deadline:
            raise DevClusterError(f"the workload runner did not start within {wait_seconds:.0f}s; see {log_file(name)}")
        time.sleep(0.1)
    return proc.pid


def stop(name: str) -> bool:
    """Stop the runner (it terminates its pods' processes) and any process of it left behind; False if none ran."""
    pid = running_pid(name)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    _kill_leftovers(name)
    pid_file(name).unlink(missing_ok=True)
    return pid is not None


def _kill_leftovers(name: str) -> None:
    """Process groups the runner started and did not end (it was killed): only those that carry its mark."""
    marker = f"{RUNNER_ENV}={state_dir(name)}".encode()
    try:
        groups = [int(line) for line in (state_dir(name) / "processes").read_text().split()]
    except (OSError, ValueError):
        return
    for group in groups:
        if _alive(group) and marker in _environ(group).split(b"\0"):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
    if runtime(name) == "containers":
        _remove_containers(engine(name))


def _remove_containers(own: containers.Engine) -> None:
    """Containers the runner started and did not remove (it was killed): only those with its label."""
    listed = subprocess.run(containers.leftovers_argv(own), capture_output=True, text=True, check=False)
    ids = listed.stdout.split()
    if ids:
        subprocess.run(own.podman_argv("rm", "--force", "--time", "0", *ids), capture_output=True, check=False)


def checkout_root() -> Path:
    script = build_script()
    if script is None:
        raise DevClusterError("the workload runner maps the clickcast images to a checkout; none found")
    return script.parent.parent


def serve(name: str) -> None:
    """Run the workload runner of cluster `name` in the foreground until SIGTERM or SIGINT."""
    kubeconfig = kwok.kubeconfig_path(kwok.check_name(name))
    if not kubeconfig.is_file():
        raise DevClusterError(f"no cluster named {name}")
    state = state_dir(name)
    api = config.new_client_from_config(str(kubeconfig))  # type: ignore[no-untyped-call]
    if runtime(name) == "containers":
        runner = PodRunner(api, None, state, pod_network=claim_network(name), engine=engine(name))
    else:
        table = images.checkout(checkout_root(), Path(sys.prefix), os.environ)
        runner = PodRunner(
            api,
            None,
            state,
            entrypoints=table.entrypoints,
            image_paths=table.paths,
            base_env=dict(os.environ) | table.env,
            pod_network=claim_network(name),
        )
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    runner.start()
    print(f"workload runner of cluster {name} ({runtime(name)}): pid {os.getpid()}, state in {state}", flush=True)
    reported = 0
    try:
        while not done.is_set():
            (state / "processes").write_text("".join(f"{pid}\n" for pid in runner.pids()))
            (state / "ready").touch()
            for error in runner.errors[reported:]:
                print(error, flush=True)
            reported = len(runner.errors)
            done.wait(0.5)
    finally:
        runner.stop()
        (state / "processes").write_text("")
        print("workload runner stopped", flush=True)
