"""Run pods as local processes, concurrently, the way a kubelet would: Job, Deployment and bare pods.

The job runner (jobrunner.py) runs a Job's pods one at a time and waits for
each. `PodRunner` is a background thread that plays the kubelet for every
scheduled pod of one namespace, or of all of them (the workload runner of
`clickcast dev cluster up`, see workloads.py). For each pod it

- builds the pod's commands with the job runner's pure part (env, fieldRefs,
  volumes, `$(VAR)` expansion, mount paths rewritten to a scratch directory);
- gives a container without a command its image's entrypoint, from the
  `entrypoints` table (exact image, or its repository with any tag), and
  rewrites paths baked into an image (`image_paths`) to local directories;
- gives the pod an address: its own loopback address from `pod_network`
  (kubelet.next_address; released when its processes are gone), or, without
  a pod network, 127.0.0.1 shared by every pod; status.podIP (and so the
  downward API) says which; a Python process that binds 0.0.0.0 (or "::")
  binds the pod's address instead (podnet/sitecustomize.py), as if the pod had
  its own network namespace, and a Service name resolves to one of its ready
  pods (the runner's Service table, services.py; API servers refuse
  loopback addresses in EndpointSlices, so Services have no endpoints);
- hands it a real ServiceAccount token (TokenRequest, bound to the pod) in
  the kube-api-access volume and a kubeconfig naming only that token
  (KUBECONFIG), so the pod acts with its own RBAC, never the runner's (the
  runner's KUBECONFIG is not passed on); KUBERNETES_SERVICE_HOST/PORT name
  the real API server;
- starts its init containers in order, then its containers side by side;
  runs their readiness probes (httpGet, tcpSocket, exec) against the pod's
  address and reports Ready/ContainersReady from them; restarts an exited
  container as restartPolicy says, with the kubelet's crash-loop backoff and
  restartCount; reports Succeeded/Failed once no container will run again;
- terminates a deleted pod's processes (SIGTERM to each process group, then
  SIGKILL after terminationGracePeriodSeconds, at most GRACE_SECONDS).

The decisions are kubelet.py's pure functions; this module carries them out.
Output goes to `<workdir>/<namespace>/<pod>.log` (`<workdir>/<pod>.log` when
it runs one namespace).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml
from kubernetes.client import (
    ApiClient,
    AuthenticationV1TokenRequest,
    CoreV1Api,
    V1BoundObjectReference,
    V1TokenRequestSpec,
)
from kubernetes.client.exceptions import ApiException

from clickcast.devcluster import containers, jobrunner, kubelet, services
from clickcast.devcluster.jobrunner import Command, ContainerRun, Doc, JobRunnerError, PodRun
from clickcast.devcluster.kubelet import ContainerView, Probe, ProbeError, ProbeKind, ProbeState

LOOPBACK = "127.0.0.1"
TOKEN_SECONDS = 3600
GRACE_SECONDS = 10.0
NOT_PASSED_ON = ("KUBECONFIG",)  # a pod has no kubeconfig but its own: it authenticates as its ServiceAccount
PODNET = Path(__file__).parent / "podnet"
"""Its sitecustomize gives a pod's Python its own address for 0.0.0.0 and resolves Service names."""
POD_IP_ENV = "CLICKCAST_POD_IP"
SERVICES_ENV = "CLICKCAST_SERVICES"
SERVICES_PERIOD = 1.0
"""How often Services are listed again (seconds): a new Service resolves this late (a pod's readiness goes
into the table in the step that reports it)."""
RUNNER_ENV = "CLICKCAST_WORKLOAD_RUNNER"
"""Set in every process the runner starts (its workdir): how `down` recognises them."""


class ImageMissingError(JobRunnerError):
    """A container's image is not in local storage (the kubelet's ErrImageNeverPull: nothing is pulled here)."""

    reason = "ErrImageNeverPull"


# --- pure helpers ---------------------------------------------------------------------------------


def reachable(pod: Doc, address: str = LOOPBACK) -> Doc:
    """The pod as its local processes see it: at `address`."""
    local = copy.deepcopy(pod)
    local.setdefault("status", {})["podIP"] = address
    local["status"]["podIPs"] = [{"ip": address}]
    return local


def image_repository(image: str) -> str:
    """`ghcr.io/clickcast/jobs:0.1.0` (or `@sha256:...`) -> `ghcr.io/clickcast/jobs`."""
    name = image.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def with_entrypoints(pod: Doc, entrypoints: Mapping[str, list[str]]) -> Doc:
    """Containers without a command get their image's entrypoint (the image's args stay as given).

    `entrypoints` is keyed by image, or by repository for every tag of it.
    """
    out = copy.deepcopy(pod)
    spec = out.get("spec", {})
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if not container.get("command"):
            image = container.get("image", "")
            entry = entrypoints.get(image) or entrypoints.get(image_repository(image))
            if entry is None:
                raise JobRunnerError(
                    f"container {container['name']} has no command and image {image!r} has no local entrypoint"
                )
            container["command"] = list(entry)
    return out


def token_paths(pod: Doc) -> dict[str, tuple[str, int, str | None]]:
    """volume name -> (file path, expirationSeconds, audience) of each serviceAccountToken projection."""
    out = {}
    for volume in pod.get("spec", {}).get("volumes") or []:
        for source in (volume.get("projected") or {}).get("sources") or []:
            if token := source.get("serviceAccountToken"):
                out[volume["name"]] = (
                    token["path"],
                    token.get("expirationSeconds", TOKEN_SECONDS),
                    token.get("audience"),
                )
    return out


def image_path_rewriter(image_paths: Mapping[str, Path]) -> Callable[[str], str]:
    if not image_paths:
        return lambda text: text
    ordered = sorted(image_paths, key=len, reverse=True)
    pattern = re.compile("|".join(rf"(?<![\w.-]){re.escape(p)}(?=/|$|[^\w.-])" for p in ordered))
    return lambda text: pattern.sub(lambda m: str(image_paths[m.group(0)]), text)


def pod_kubeconfig(server: str, ca_file: str | None, token_file: Path, namespace: str) -> Doc:
    """A kubeconfig that holds nothing but the pod's own token (by file: a refreshed token is read again)."""
    cluster: Doc = {"server": server, **({"certificate-authority": ca_file} if ca_file else {})}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": cluster}],
        "users": [{"name": "pod", "user": {"tokenFile": str(token_file)}}],
        "contexts": [{"name": "pod", "context": {"cluster": "cluster", "user": "pod", "namespace": namespace}}],
        "current-context": "pod",
    }


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the state of one running pod -----------------------------------------------------------------


@dataclass
class _Container:
    command: Command
    image: str
    probe: Probe | None
    name: str | None = None  # container mode: the container's name (podman stop, podman exec)
    process: subprocess.Popen[bytes] | None = None
    started_at: str = ""
    started: float = 0.0  # monotonic
    restarts: int = 0
    last_state: Doc = field(default_factory=dict)
    final: Doc | None = None  # the terminated state of a container that will not run again
    restart_at: float | None = None
    probe_state: ProbeState = field(default_factory=ProbeState)
    probe_last: float | None = None
    probe_result: Future[bool] | None = None

    def view(self) -> ContainerView:
        if self.final is not None:
            state = self.final
        elif self.process is not None:
            state = kubelet.running(self.started_at)
        elif self.restart_at is not None:
            state = kubelet.waiting("CrashLoopBackOff", f"back-off restarting container {self.command.container}")
        else:
            state = kubelet.waiting("PodInitializing")
        ready = self.process is not None and (self.probe is None or self.probe_state.ready)
        return ContainerView(self.command.container, self.image, state, ready, self.restarts, self.last_state)


@dataclass
class _Pod:
    pod: Doc
    address: str
    log: Path
    policy: str
    start_time: str
    init: list[_Container]
    main: list[_Container]
    grace: float
    reported: Doc | None = None  # the last status written (kubelet.without_times)
    previous: Doc | None = None

    @property
    def name(self) -> str:
        return str(self.pod["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.pod["metadata"]["namespace"])

    def processes(self) -> list[subprocess.Popen[bytes]]:
        return [c.process for c in [*self.init, *self.main] if c.process is not None]


class PodRunner:
    """Runs the scheduled pods of `namespace` (None: every namespace) as local processes until stopped."""

    def __init__(
        self,
        api: ApiClient,
        namespace: str | None,
        workdir: Path,
        *,
        entrypoints: Mapping[str, list[str]] | None = None,
        image_paths: Mapping[str, Path] | None = None,
        base_env: Mapping[str, str] | None = None,
        label_selector: str | None = None,
        pod_network: str | None = None,
        engine: containers.Engine | None = None,
        poll: float = 0.25,
    ) -> None:
        self.api, self.core = api, CoreV1Api(api)
        self.namespace = namespace
        self.workdir = workdir
        self.entrypoints = dict(entrypoints or {})
        self.rewrite_image_path = image_path_rewriter(dict(image_paths or {}))
        server = urlparse(api.configuration.host)
        env = {k: v for k, v in (os.environ if base_env is None else base_env).items() if k not in NOT_PASSED_ON}
        cluster = {
            "KUBERNETES_SERVICE_HOST": server.hostname or LOOPBACK,
            "KUBERNETES_SERVICE_PORT": str(server.port or 443),
            "KUBERNETES_SERVICE_PORT_HTTPS": str(server.port or 443),
        }
        self.engine = engine
        # A process gets the host's environment (it runs the checkout); a container gets only the cluster's, and
        # podman (its parent) the host's minimum.
        self.base_env = (
            cluster
            if engine is not None
            else env
            | cluster
            | {
                "KUBERNETES_AUTH_TRYKUBECONFIG": "false",  # fabric8 (Spark's client) would read ~/.kube/config
            }
        )
        self.host_env = {k: env[k] for k in ("PATH", "HOME", "TMPDIR", "XDG_RUNTIME_DIR") if k in env} | {
            RUNNER_ENV: str(workdir)
        }
        if engine is None:
            self.base_env |= {RUNNER_ENV: str(workdir)}
        self.label_selector = label_selector
        self.pod_network = pod_network
        self.api_server = (server.hostname or LOOPBACK, server.port or 443)
        self.services_file = workdir / "net" / "services.json"  # in a directory of its own: containers mount it
        self._services_at = 0.0
        self._services: services.Table | None = None
        self._service_docs: list[Doc] = []
        self._due: list[tuple[str, bool]] = []  # pods whose status this step reports, after the Service table
        self.poll = poll
        self.errors: list[str] = []
        self.started: dict[str, Doc] = {}  # every pod this runner started, as it was then
        self.finished: dict[str, PodRun] = {}
        self._pods: dict[str, _Pod] = {}
        self._seen: set[str] = set()
        self._addresses: dict[str, str] = {}  # uid -> address, until the pod's processes are gone
        self._lock = threading.Lock()
        self._stopping: list[threading.Thread] = []
        self._probes = ThreadPoolExecutor(max_workers=16, thread_name_prefix="probe")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"podrunner-{namespace or 'all'}", daemon=True)

    def __enter__(self) -> PodRunner:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self.services_file.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def log_path(self, namespace: str, pod: str) -> Path:
        return self.workdir / f"{pod}.log" if self.namespace else self.workdir / namespace / f"{pod}.log"

    def log(self, pod: str, namespace: str | None = None) -> str:
        path = self.log_path(namespace or self.namespace or "default", pod)
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def running(self) -> list[str]:
        return sorted(p.name for p in list(self._pods.values()))

    def pids(self) -> list[int]:
        """Every process (group leader) the runner has running now."""
        return [proc.pid for pod in list(self._pods.values()) for proc in pod.processes()]

    def stop(self) -> None:
        """Stop watching and terminate every process still running (concurrently, each with its grace period)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        for uid in list(self._pods):
            self._terminate(uid)
        for thread in self._stopping:
            thread.join()
        self._probes.shutdown(wait=False, cancel_futures=True)

    # --- the loop -------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception as exc:  # keep running: one bad pod must not stop the others
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self._stop.wait(self.poll)

    def _list(self) -> list[Doc]:
        if self.namespace is None:
            items = self.core.list_pod_for_all_namespaces(label_selector=self.label_selector).items
        else:
            items = self.core.list_namespaced_pod(self.namespace, label_selector=self.label_selector).items
        return [self._doc(i) for i in items]

    def _step(self) -> None:
        pods = {p["metadata"]["uid"]: p for p in self._list()}
        for uid in list(self._pods):
            pod = pods.get(uid)
            if pod is None or pod["metadata"].get("deletionTimestamp"):
                self._terminate(uid)  # deleted: the kubelet kills the containers
        for uid, pod in pods.items():
            if uid in self._seen or pod["metadata"].get("deletionTimestamp") or not pod["spec"].get("nodeName"):
                continue
            if pod.get("status", {}).get("phase", "Pending") in ("Pending", "Running"):
                self._seen.add(uid)
                self.started[pod["metadata"]["name"]] = pod
                in_use = {p.get("status", {}).get("podIP") for p in pods.values()}
                self._each(pod, self._start, uid, pod, in_use)
        self._due = []
        for uid, state in list(self._pods.items()):
            self._each(state.pod, self._advance, uid)
        if self.pod_network is not None:
            # Before any status goes out: whoever sees a pod Ready can reach it by its Service's name.
            self._each(str(self.services_file), self._write_services)
        for uid, done in self._due:
            if uid in self._pods:
                self._each(self._pods[uid].pod, self._report, uid, done)

    def _write_services(self) -> None:
        """The Service table of the pods that are ready now, replaced atomically when it changed."""
        if time.monotonic() >= self._services_at + SERVICES_PERIOD:
            self._services_at = time.monotonic()
            if self.namespace is None:
                items = self.core.list_service_for_all_namespaces().items
            else:
                items = self.core.list_namespaced_service(self.namespace).items
            self._service_docs = [self._doc(i) for i in items]
        ready = [(s.pod, s.address) for s in list(self._pods.values()) if s.main and all(c.view().ready
                                                                                          for c in s.main)]  # fmt: skip
        table = services.service_table(self._service_docs, ready, self.api_server)
        if table != self._services:
            staging = self.services_file.with_suffix(".tmp")
            staging.write_text(json.dumps(table))
            staging.replace(self.services_file)
            self._services = table

    def _each(self, pod: Doc | str, work: Callable[..., None], *args: Any) -> None:
        """One pod's step (or one other piece of the step, named by a string): its failure is recorded and does
        not hold up the others."""
        try:
            work(*args)
        except Exception as exc:
            what = pod if isinstance(pod, str) else f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
            self.errors.append(f"{what}: {type(exc).__name__}: {exc}")

    def _doc(self, obj: object) -> Doc:
        doc: Doc = self.api.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
        return doc

    def _address(self, uid: str, pod: Doc, in_use: set[str | None]) -> str:
        if self.pod_network is None:
            return LOOPBACK
        with self._lock:
            own = pod.get("status", {}).get("podIP")
            taken = set(self._addresses.values())
            if kubelet.in_network(own, self.pod_network) and own not in taken:
                address = str(own)  # a pod this runner ran before it restarted keeps its address
            else:
                address = kubelet.next_address(taken | {a for a in in_use if a}, self.pod_network)
            self._addresses[uid] = address
            return address

    def _start(self, uid: str, pod: Doc, in_use: set[str | None]) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        name, namespace = meta["name"], meta["namespace"]
        scratch = self.workdir / "pods" / name if self.namespace else self.workdir / "pods" / namespace / name
        policy = spec.get("restartPolicy", "Always")
        address = self._address(uid, pod, in_use)
        try:
            if self.engine is not None:
                local, work = reachable(pod, address), self._container_workload(pod, scratch, address)
            else:
                local = with_entrypoints(reachable(pod, address), self.entrypoints)
                env = self.base_env | self._write_tokens(pod, scratch)
                lookup = jobrunner.cluster_lookup(self.core, namespace)
                work = jobrunner.workload(local, scratch, lookup, env)
            specs = {c["name"]: c for c in [*(spec.get("initContainers") or []), *spec["containers"]]}
            probes = {c.container: kubelet.parse_probe(specs[c.container]) for c in work.main}
        except (JobRunnerError, ProbeError, ApiException) as exc:
            self.errors.append(f"{namespace}/{name}: {exc}")
            reason = exc.reason if isinstance(exc, ImageMissingError) else "CreateContainerConfigError"
            self._setup_failed(uid, pod, address, policy, str(exc), reason=reason)
            return
        if self.engine is None:
            work = self._local(work, scratch, address, f"{namespace}/{name}")
        log = self.log_path(namespace, name)
        log.parent.mkdir(parents=True, exist_ok=True)
        grace = min(float(spec.get("terminationGracePeriodSeconds", 30)), GRACE_SECONDS)
        named = self.engine is not None

        def state(c: Command, probe: Probe | None) -> _Container:
            own_name = containers.container_name(pod, c.container) if named else None
            return _Container(c, specs[c.container].get("image", ""), probe, own_name)

        self._pods[uid] = _Pod(
            local,
            address,
            log,
            policy,
            (pod.get("status") or {}).get("startTime") or _timestamp(),
            [state(c, None) for c in work.init],
            [state(c, probes[c.container]) for c in work.main],
            grace,
            previous=pod.get("status"),
        )

    def _local(self, work: jobrunner.Workload, scratch: Path, address: str, pod: str) -> jobrunner.Workload:
        """Process mode: paths baked into the images point at the checkout; the pod network through PYTHONPATH."""
        rewrite = self.rewrite_image_path
        root = scratch / "root"  # a container's own working directory, never shared with another pod
        root.mkdir(parents=True, exist_ok=True)
        own = {"CLICKCAST_POD": pod}
        if self.pod_network is not None:  # with PODNET first on PYTHONPATH: the pod's address, Service names
            own |= {POD_IP_ENV: address, SERVICES_ENV: str(self.services_file)}

        def local_command(c: Command) -> Command:
            env = c.env | own
            if self.pod_network is not None:
                env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PODNET), c.env.get("PYTHONPATH")) if p)
            return Command(c.container, [rewrite(a) for a in c.argv], env, c.cwd or root)

        return jobrunner.Workload([local_command(c) for c in work.init], [local_command(c) for c in work.main])

    def _container_workload(self, pod: Doc, scratch: Path, address: str) -> jobrunner.Workload:
        """Container mode: `podman run` for each container, its volumes written and owned as the kubelet would."""
        assert self.engine is not None
        engine, meta = self.engine, pod["metadata"]
        local = reachable(pod, address)
        lookup = jobrunner.cluster_lookup(self.core, meta["namespace"])
        self._write_tokens(pod, scratch)
        volumes = jobrunner.materialize_volumes(local, scratch, lookup)
        containers.own_volumes(pod, volumes)
        users = {
            image: self._image_user(image)
            for image in {
                c.get("image", "") for c in [*(pod["spec"].get("initContainers") or []), *pod["spec"]["containers"]]
            }
        }

        def command(c: Doc) -> Command:
            return containers.run_command(engine, local, c, volumes=volumes, env=self.base_env, lookup=lookup,
                                          image_user=users[c.get("image", "")], address=address,
                                          host_env=self.host_env)  # fmt: skip

        spec = pod["spec"]
        return jobrunner.Workload([command(c) for c in spec.get("initContainers") or []],
                                  [command(c) for c in spec["containers"]])  # fmt: skip

    def _image_user(self, image: str) -> str:
        """The image's USER; ImageMissingError when it is not in local storage (nothing is pulled here)."""
        assert self.engine is not None
        done = subprocess.run(self.engine.podman_argv("image", "inspect", "--format", "{{.Config.User}}", image),
                              capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            raise ImageMissingError(f"image {image!r} is not present with pull policy of Never (build it: make images)")
        return done.stdout.strip()

    def _setup_failed(
        self, uid: str, pod: Doc, address: str, policy: str, message: str, *, reason: str = "CreateContainerConfigError"
    ) -> None:
        """A pod that cannot run here: Failed if it would never be retried, else waiting with the reason."""
        name = pod["metadata"]["name"]
        if policy == "Never":
            self._release(uid)
            run = PodRun(name, [], [ContainerRun("setup", jobrunner.NOT_FOUND_EXIT, f"{message}\n")])
            self.finished[name] = run
            self._patch(pod, jobrunner.pod_status_patch(pod, run, _timestamp()))
            return
        now = _timestamp()
        views = [ContainerView(c["name"], c.get("image", ""), kubelet.waiting(reason, message))
                 for c in pod["spec"]["containers"]]  # fmt: skip
        status = kubelet.pod_status(policy=policy, pod_ip=address, start_time=now, now=now, init=[], containers=views)
        self._patch(pod, {"status": status})

    def _write_tokens(self, pod: Doc, scratch: Path) -> dict[str, str]:
        """Write the pod's ServiceAccount tokens; the environment that points its clients at them (KUBECONFIG)."""
        sa = pod.get("spec", {}).get("serviceAccountName") or "default"
        meta = pod["metadata"]
        env: dict[str, str] = {}
        for volume, (path, seconds, audience) in token_paths(pod).items():
            request = AuthenticationV1TokenRequest(
                spec=V1TokenRequestSpec(
                    audiences=[audience] if audience else [],  # none: the API server's own audience
                    expiration_seconds=seconds,
                    bound_object_ref=V1BoundObjectReference(
                        api_version="v1", kind="Pod", name=meta["name"], uid=meta["uid"]
                    ),
                )
            )
            answer = self.core.create_namespaced_service_account_token(sa, meta["namespace"], request)
            if answer.status is None or not answer.status.token:
                raise JobRunnerError(f"no token issued for ServiceAccount {meta['namespace']}/{sa}")
            target = scratch / "volumes" / volume / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(answer.status.token)
            if audience is None and "KUBECONFIG" not in env:
                config = pod_kubeconfig(self.api.configuration.host, self.api.configuration.ssl_ca_cert, target,
                                        meta["namespace"])  # fmt: skip
                kubeconfig = scratch / "kubeconfig.yaml"
                kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))
                env["KUBECONFIG"] = str(kubeconfig)
        return env

    # --- containers -----------------------------------------------------------------------------

    def _spawn(self, state: _Pod, container: _Container) -> None:
        command = container.command
        with state.log.open("ab") as out:
            out.write(f"--- {command.container}: {' '.join(command.argv)}\n".encode())
            out.flush()
            try:
                container.process = subprocess.Popen(
                    command.argv, env=command.env, cwd=command.cwd, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: terminate() reaches the JVM's children too
                )  # fmt: skip
            except OSError as exc:  # a missing executable: what a shell reports as 127
                out.write(f"{exc}\n".encode())
                container.process = None
                container.started_at = _timestamp()
                self._exited(state, container, jobrunner.NOT_FOUND_EXIT)
                return
        container.started_at, container.started = _timestamp(), time.monotonic()
        container.restart_at = None
        container.probe_state, container.probe_last, container.probe_result = ProbeState(), None, None

    def _exited(self, state: _Pod, container: _Container, code: int, *, init: bool = False) -> None:
        finished = kubelet.terminated(code, container.started_at, _timestamp())
        container.process = None
        if not init and kubelet.should_restart(state.policy, code):
            container.last_state = finished
            container.restart_at = time.monotonic() + kubelet.backoff_seconds(container.restarts)
            container.restarts += 1
        else:
            container.final = finished

    def _advance(self, uid: str) -> None:
        state = self._pods[uid]
        for container in state.init:  # in order: one at a time, the next once the previous succeeded
            if container.final is not None:
                if container.final["terminated"]["exitCode"] != 0:
                    return self._due.append((uid, True))
                continue
            if container.process is None:
                self._spawn(state, container)
            elif (code := container.process.poll()) is not None:
                self._exited(state, container, code, init=True)
            return self._due.append((uid, False))
        now = time.monotonic()
        for container in state.main:
            if container.final is not None:
                continue
            if container.process is None:
                if container.restart_at is None or now >= container.restart_at:
                    self._spawn(state, container)
            elif (code := container.process.poll()) is not None:
                self._exited(state, container, code)
            else:
                self._probe(state, container, now)
        self._due.append((uid, all(c.final is not None for c in state.main)))

    def _probe(self, state: _Pod, container: _Container, now: float) -> None:
        probe = container.probe
        if probe is None:
            return
        if container.probe_result is not None:
            if not container.probe_result.done():
                return
            container.probe_state = container.probe_state.observe(probe, container.probe_result.result())
            container.probe_result = None
        if kubelet.probe_due(probe, container.started, container.probe_last, now):
            container.probe_last = now
            prefix = containers.exec_prefix(self.engine, container.name) if self.engine and container.name else []
            container.probe_result = self._probes.submit(
                run_probe, probe, state.address, container.command.env, container.command.cwd, prefix
            )

    # --- status ---------------------------------------------------------------------------------

    def _report(self, uid: str, done: bool) -> None:
        state = self._pods[uid]
        now = _timestamp()
        status = kubelet.pod_status(
            policy=state.policy, pod_ip=state.address, start_time=state.start_time, now=now,
            init=[c.view() for c in state.init], containers=[c.view() for c in state.main], previous=state.previous,
        )  # fmt: skip
        if done or status["phase"] in ("Succeeded", "Failed"):
            self._pods.pop(uid)
            self._release(uid)
            run = PodRun(
                state.name,
                [ContainerRun(c.command.container, _exit_code(c), "") for c in state.init if c.final],
                [ContainerRun(c.command.container, _exit_code(c), "") for c in state.main if c.final],
            )
            self.finished[state.name] = run
        key = kubelet.without_times(status)
        if key != state.reported:
            self._patch(state.pod, {"status": status})
            state.reported, state.previous = key, status

    def _patch(self, pod: Doc, patch: Doc) -> None:
        # A JSON merge patch replaces lists whole: a strategic merge would add our address to the podIPs
        # KWOK set (two IPv4 addresses, refused) and keep containers' stale fields.
        try:
            self.core.patch_namespaced_pod_status(
                pod["metadata"]["name"], pod["metadata"]["namespace"], patch,
                _content_type="application/merge-patch+json",
            )  # fmt: skip
        except ApiException as exc:
            if exc.status != 404:  # a pod deleted meanwhile has nobody left to tell
                raise

    # --- termination ----------------------------------------------------------------------------

    def _release(self, uid: str) -> None:
        with self._lock:
            self._addresses.pop(uid, None)

    def _terminate(self, uid: str) -> None:
        state = self._pods.pop(uid, None)
        if state is None:
            return

        def stop() -> None:
            names = [c.name for c in [*state.init, *state.main] if c.name is not None and c.process is not None]
            if self.engine is not None and names:
                # The runtime signals the container's first process (the image's StopSignal), then kills it after
                # the grace period; the attached `podman run` then exits with its code.
                grace = str(int(state.grace))
                subprocess.run(self.engine.podman_argv("stop", "--ignore", "--time", grace, *names),
                               capture_output=True, check=False, timeout=state.grace + GRACE_SECONDS)  # fmt: skip
            for proc in state.processes():
                _signal_group(proc, signal.SIGTERM)
            deadline = time.monotonic() + state.grace
            for proc in state.processes():
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    _signal_group(proc, signal.SIGKILL)
                    proc.wait(GRACE_SECONDS)
            self._release(uid)  # the address is free once nothing listens on it any more

        thread = threading.Thread(target=stop, name=f"stop-{state.name}", daemon=True)
        self._stopping.append(thread)
        thread.start()


def _exit_code(container: _Container) -> int:
    return int((container.final or {}).get("terminated", {}).get("exitCode", 0))


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def run_probe(
    probe: Probe, address: str, env: Mapping[str, str], cwd: Path | None, exec_prefix: Sequence[str] = ()
) -> bool:
    """Carry out one probe against the pod's address: HTTP 200-399, a TCP connect, or exit code 0 (of the
    command run by `exec_prefix`: inside the container, in container mode)."""
    host = probe.host or address
    try:
        if probe.kind == ProbeKind.HTTP:
            url = f"{probe.scheme.lower()}://{host}:{probe.port}{probe.path}"
            with urllib.request.urlopen(url, timeout=probe.timeout) as answer:
                return 200 <= int(answer.status) < 400
        if probe.kind == ProbeKind.TCP:
            with socket.create_connection((host, int(probe.port or 0)), timeout=probe.timeout):
                return True
        done = subprocess.run([*exec_prefix, *probe.command], env=dict(env), cwd=cwd, capture_output=True,
                              timeout=probe.timeout, check=False)  # fmt: skip
        return done.returncode == 0
    except (OSError, urllib.error.URLError, subprocess.TimeoutExpired, ValueError):
        return False
