"""Run a namespace's pods as local processes, concurrently, the way a kubelet would: bare pods included.

The job runner (jobrunner.py) runs a Job's pods one at a time and waits for
each. Spark on Kubernetes needs more: the training pod (a Job's) keeps running
while the executor pods it creates (bare pods, owned by the driver pod) run
beside it and talk to it. `PodRunner` is a background thread that, for each
pod of its namespace that KWOK made Running,

- builds the pod's commands with the job runner's pure part (env, fieldRefs,
  volumes, `$(VAR)` expansion, mount paths rewritten to a scratch directory);
- gives a container without a command its image's entrypoint, from the
  `entrypoints` table (what an image would run; e.g. the jobs image's
  jobs/entrypoint.sh, which honours Spark's `executor` argument);
- rewrites paths baked into an image (`image_paths`) to local directories;
- makes the pod reachable: status.podIP is 127.0.0.1 for its processes, as
  they share the host's loopback, and KUBERNETES_SERVICE_HOST/PORT name the
  real API server;
- writes a real ServiceAccount token (TokenRequest, bound to the pod) into
  the kube-api-access volume, so the pod acts with its own RBAC, never the
  runner's (the runner's KUBECONFIG is not passed on);
- starts its containers (init containers first, in order) and reports the
  exit as Succeeded/Failed, like jobrunner; a pod deleted while running has
  its processes terminated (SIGTERM, then SIGKILL after the grace period).

Its output goes to `<workdir>/<pod>.log`.
"""

from __future__ import annotations

import copy
import os
import re
import signal
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from kubernetes.client import (
    ApiClient,
    AuthenticationV1TokenRequest,
    CoreV1Api,
    V1BoundObjectReference,
    V1TokenRequestSpec,
)
from kubernetes.client.exceptions import ApiException

from clickcast.devcluster import jobrunner
from clickcast.devcluster.jobrunner import Command, ContainerRun, Doc, JobRunnerError, PodRun

LOOPBACK = "127.0.0.1"
TOKEN_SECONDS = 3600
GRACE_SECONDS = 10.0
NOT_PASSED_ON = ("KUBECONFIG",)  # a pod has no kubeconfig: it must authenticate as its ServiceAccount


@dataclass
class _Running:
    pod: Doc
    log: Path
    commands: list[Command]
    init_left: list[Command]
    process: subprocess.Popen[bytes] | None = None
    runs: list[ContainerRun] = field(default_factory=list)
    init_runs: list[ContainerRun] = field(default_factory=list)
    main: list[subprocess.Popen[bytes]] = field(default_factory=list)


def reachable(pod: Doc) -> Doc:
    """The pod as its local processes see it: at the loopback address."""
    local = copy.deepcopy(pod)
    local.setdefault("status", {})["podIP"] = LOOPBACK
    local["status"]["podIPs"] = [{"ip": LOOPBACK}]
    return local


def with_entrypoints(pod: Doc, entrypoints: Mapping[str, list[str]]) -> Doc:
    """Containers without a command get their image's entrypoint (the image's args stay as given)."""
    out = copy.deepcopy(pod)
    spec = out.get("spec", {})
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if not container.get("command"):
            image = container.get("image", "")
            if image not in entrypoints:
                raise JobRunnerError(
                    f"container {container['name']} has no command and image {image!r} has no local entrypoint"
                )
            container["command"] = list(entrypoints[image])
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


def image_path_rewriter(image_paths: Mapping[str, Path]) -> Any:
    if not image_paths:
        return lambda text: text
    ordered = sorted(image_paths, key=len, reverse=True)
    pattern = re.compile("|".join(rf"(?<![\w.-]){re.escape(p)}(?=/|$|[^\w.-])" for p in ordered))
    return lambda text: pattern.sub(lambda m: str(image_paths[m.group(0)]), text)


class PodRunner:
    """Runs the pods of `namespace` (matching `label_selector`) as local processes until stopped."""

    def __init__(
        self,
        api: ApiClient,
        namespace: str,
        workdir: Path,
        *,
        entrypoints: Mapping[str, list[str]] | None = None,
        image_paths: Mapping[str, Path] | None = None,
        base_env: Mapping[str, str] | None = None,
        label_selector: str | None = None,
        poll: float = 0.25,
    ) -> None:
        self.api, self.core = api, CoreV1Api(api)
        self.namespace = namespace
        self.workdir = workdir
        self.entrypoints = dict(entrypoints or {})
        self.rewrite_image_path = image_path_rewriter(dict(image_paths or {}))
        server = urlparse(api.configuration.host)
        env = {k: v for k, v in (os.environ if base_env is None else base_env).items() if k not in NOT_PASSED_ON}
        self.base_env = env | {
            "KUBERNETES_SERVICE_HOST": server.hostname or LOOPBACK,
            "KUBERNETES_SERVICE_PORT": str(server.port or 443),
            "KUBERNETES_AUTH_TRYKUBECONFIG": "false",  # fabric8 (Spark's client) would read ~/.kube/config
        }
        self.label_selector = label_selector
        self.poll = poll
        self.errors: list[str] = []
        self.started: dict[str, Doc] = {}  # every pod this runner started, as it was then
        self.finished: dict[str, PodRun] = {}
        self._running: dict[str, _Running] = {}
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"podrunner-{namespace}", daemon=True)

    def __enter__(self) -> PodRunner:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def log(self, pod: str) -> str:
        path = self.workdir / f"{pod}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def running(self) -> list[str]:
        return sorted(r.pod["metadata"]["name"] for r in self._running.values())

    def stop(self) -> None:
        """Stop watching and terminate every process still running."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        for uid in list(self._running):
            self._terminate(uid)

    # --- the loop -------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception as exc:  # keep running: one bad pod must not stop the others
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self._stop.wait(self.poll)

    def _step(self) -> None:
        items = self.core.list_namespaced_pod(self.namespace, label_selector=self.label_selector).items
        pods = {p["metadata"]["uid"]: p for p in (self._doc(i) for i in items)}
        for uid in list(self._running):
            pod = pods.get(uid)
            if pod is None or pod["metadata"].get("deletionTimestamp"):
                self._terminate(uid)  # deleted: the kubelet kills the containers
        for uid, pod in pods.items():
            if uid in self._seen or pod["metadata"].get("deletionTimestamp"):
                continue
            if pod.get("status", {}).get("phase") == "Running":
                self._seen.add(uid)
                self.started[pod["metadata"]["name"]] = pod
                self._start(uid, pod)
        for uid in list(self._running):
            self._advance(uid)

    def _doc(self, obj: object) -> Doc:
        doc: Doc = self.api.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
        return doc

    def _start(self, uid: str, pod: Doc) -> None:
        name = pod["metadata"]["name"]
        scratch = self.workdir / "pods" / name
        try:
            local = with_entrypoints(reachable(pod), self.entrypoints)
            work = jobrunner.workload(
                local, scratch, jobrunner.cluster_lookup(self.core, self.namespace), self.base_env
            )
            self._write_tokens(pod, scratch)
        except (JobRunnerError, ApiException) as exc:
            self.errors.append(f"{name}: {exc}")
            self._report(pod, PodRun(name, [], [ContainerRun("setup", jobrunner.NOT_FOUND_EXIT, f"{exc}\n")]))
            return
        rewrite = self.rewrite_image_path
        root = scratch / "root"  # a container's own working directory, never shared with another pod
        root.mkdir(parents=True, exist_ok=True)
        fix = [
            Command(c.container, [rewrite(a) for a in c.argv], c.env, c.cwd or root) for c in [*work.init, *work.main]
        ]
        init, main = fix[: len(work.init)], fix[len(work.init) :]
        self._running[uid] = _Running(pod, self.workdir / f"{name}.log", main, init)

    def _write_tokens(self, pod: Doc, scratch: Path) -> None:
        sa = pod.get("spec", {}).get("serviceAccountName") or "default"
        meta = pod["metadata"]
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
            answer = self.core.create_namespaced_service_account_token(sa, self.namespace, request)
            if answer.status is None or not answer.status.token:
                raise JobRunnerError(f"no token issued for ServiceAccount {self.namespace}/{sa}")
            target = scratch / "volumes" / volume / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(answer.status.token)

    def _spawn(self, state: _Running, command: Command) -> subprocess.Popen[bytes]:
        with state.log.open("ab") as out:
            out.write(f"--- {command.container}: {' '.join(command.argv)}\n".encode())
            out.flush()
            return subprocess.Popen(
                command.argv, env=command.env, cwd=command.cwd, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: terminate() reaches the JVM's children too
            )  # fmt: skip

    def _advance(self, uid: str) -> None:
        state = self._running[uid]
        if state.process is not None:  # an init container
            code = state.process.poll()
            if code is None:
                return
            state.init_runs.append(ContainerRun(state.init_left.pop(0).container, code, ""))
            state.process = None
            if code:
                self._finish(uid)
                return
        if state.init_left:
            state.process = self._spawn(state, state.init_left[0])
            return
        if not state.main:
            state.main = [self._spawn(state, c) for c in state.commands]
        if all(p.poll() is not None for p in state.main):
            state.runs = [
                ContainerRun(c.container, int(p.returncode), "")
                for c, p in zip(state.commands, state.main, strict=True)
            ]
            self._finish(uid)

    def _finish(self, uid: str) -> None:
        state = self._running.pop(uid)
        name = state.pod["metadata"]["name"]
        run = PodRun(name, state.init_runs, state.runs)
        self.finished[name] = run
        self._report(state.pod, run)

    def _report(self, pod: Doc, run: PodRun) -> None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            self.core.patch_namespaced_pod_status(
                pod["metadata"]["name"], self.namespace, jobrunner.pod_status_patch(pod, run, now)
            )
        except ApiException as exc:
            if exc.status != 404:  # a pod deleted meanwhile has nobody left to tell
                raise

    def _terminate(self, uid: str) -> None:
        state = self._running.pop(uid, None)
        if state is None:
            return
        for proc in [*state.main, *([state.process] if state.process else [])]:
            _stop_group(proc)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(GRACE_SECONDS)
    except ProcessLookupError:
        pass
