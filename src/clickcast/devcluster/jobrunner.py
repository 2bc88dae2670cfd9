"""Run a Job's workload for real, as a local subprocess, and report the exit code to the cluster.

A KWOK cluster has no kubelet: pods are scheduled and made Running by KWOK
stages, but nothing runs them. This module plays the kubelet for Jobs. For
each Running pod of the Job it reads the pod's spec (the image is ignored),
runs each container's command + args locally with the container's env, and
patches the pod's status to Succeeded or Failed with the exit code; the real
Job controller then counts it (retries, backoffLimit, podFailurePolicy,
Complete/Failed).

What "locally" means:
- the environment is this process's (PATH, virtualenv...) overlaid with the
  container's env and envFrom (values, ConfigMap and Secret keys, fieldRefs);
  `$(VAR)` references in command, args and env are expanded as Kubernetes does;
- configMap, secret, projected and emptyDir volumes are written under a scratch
  directory, and every mount path found in command, args, env values and
  workingDir is rewritten to that directory (other volume types are refused);
- init containers run first, in order, and stop the pod at the first failure;
  the regular containers then run one after the other (not concurrently).
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from kubernetes.client import ApiClient, BatchV1Api, CoreV1Api
from kubernetes.client.exceptions import ApiException

from clickcast.devcluster.errors import DevClusterError

JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
OUTPUT_LIMIT = 64 * 1024
NOT_FOUND_EXIT = 127  # what a shell reports for a missing executable

Doc = dict[str, Any]
Lookup = Callable[[str, str], Mapping[str, str]]  # (kind "ConfigMap" | "Secret", name) -> data


class JobRunnerError(DevClusterError):
    """The workload cannot be run locally (unsupported volume, missing command...) or the Job did not finish."""


@dataclass(frozen=True)
class Command:
    container: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path | None


@dataclass(frozen=True)
class Workload:
    init: list[Command]
    main: list[Command]


@dataclass(frozen=True)
class ContainerRun:
    container: str
    exit_code: int
    output: str


@dataclass(frozen=True)
class PodRun:
    pod: str
    init: list[ContainerRun] = field(default_factory=list)
    main: list[ContainerRun] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The first non-zero exit code, init containers first; 0 if every container succeeded."""
        return next((run.exit_code for run in [*self.init, *self.main] if run.exit_code), 0)

    @property
    def output(self) -> str:
        return "".join(run.output for run in [*self.init, *self.main])


@dataclass(frozen=True)
class JobRun:
    job: str
    succeeded: bool  # the Job's own verdict: condition Complete (True) or Failed (False)
    pods: list[PodRun]


# --- the pure part: from a pod to the commands to run ------------------------------------------

_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion: defined variables are replaced, others kept, `$$` escapes `$`."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _REF.sub(sub, text)


def _field(pod: Doc, path: str) -> str:
    meta = pod.get("metadata", {})
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": pod.get("spec", {}).get("nodeName"),
        "spec.serviceAccountName": pod.get("spec", {}).get("serviceAccountName"),
        "status.podIP": pod.get("status", {}).get("podIP"),
        "status.hostIP": pod.get("status", {}).get("hostIP"),
    }
    if path in simple:
        return str(simple[path] or "")
    if m := re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path):
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    raise JobRunnerError(f"fieldRef {path!r} is not supported by the local job runner")


def _key(lookup: Lookup, kind: str, ref: Doc) -> str | None:
    data = lookup(kind, ref["name"])
    if ref["key"] in data:
        return data[ref["key"]]
    if ref.get("optional"):
        return None
    raise JobRunnerError(f"{kind} {ref['name']} has no key {ref['key']!r}")


def container_env(pod: Doc, container: Doc, lookup: Lookup) -> dict[str, str]:
    """The variables the container defines (envFrom first, then env, which wins), expanded in order."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if key in source:
                env.update({prefix + k: v for k, v in lookup(kind, source[key]["name"]).items()})
    for var in container.get("env") or []:
        src = var.get("valueFrom")
        value: str | None
        if src is None:
            value = expand(var.get("value", ""), env)
        elif "configMapKeyRef" in src:
            value = _key(lookup, "ConfigMap", src["configMapKeyRef"])
        elif "secretKeyRef" in src:
            value = _key(lookup, "Secret", src["secretKeyRef"])
        elif "fieldRef" in src:
            value = _field(pod, src["fieldRef"]["fieldPath"])
        else:
            raise JobRunnerError(f"env {var['name']}: {sorted(src)} is not supported by the local job runner")
        if value is not None:
            env[var["name"]] = value
    return env


def _write(target: Path, relative: str, text: str) -> None:
    path = target / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _write_keys(target: Path, kind: str, src: Doc, *, lookup: Lookup, volume: str) -> None:
    """A configMap or secret source: the listed `items`, or every key."""
    ref = src.get("name") or src["secretName"]  # a secret volume says secretName, a projected one name
    try:
        data = lookup(kind, ref)
    except JobRunnerError:
        if src.get("optional"):
            return
        raise
    for item in src.get("items") or [{"key": k, "path": k} for k in data]:
        if item["key"] not in data:
            if src.get("optional"):
                continue
            raise JobRunnerError(f"volume {volume}: {kind} {ref} has no key {item['key']!r}")
        _write(target, item["path"], data[item["key"]])


def _write_projected(pod: Doc, target: Path, sources: list[Doc], lookup: Lookup, volume: str) -> None:
    for source in sources:
        if "configMap" in source:
            _write_keys(target, "ConfigMap", source["configMap"], lookup=lookup, volume=volume)
        elif "secret" in source:
            _write_keys(target, "Secret", source["secret"], lookup=lookup, volume=volume)
        elif "downwardAPI" in source:
            for item in source["downwardAPI"].get("items") or []:
                if "fieldRef" not in item:
                    raise JobRunnerError(f"volume {volume}: only fieldRef downwardAPI items are supported")
                _write(target, item["path"], _field(pod, item["fieldRef"]["fieldPath"]))
        # serviceAccountToken (the kube-api-access volume every pod gets) is left out: the process does not
        # run inside the cluster, so in-cluster credentials would not be usable anyway.


def materialize_volumes(pod: Doc, scratch: Path, lookup: Lookup) -> dict[str, Path]:
    """Write the pod's configMap/secret/projected/emptyDir volumes under `scratch`; volume name -> directory."""
    dirs: dict[str, Path] = {}
    for volume in pod.get("spec", {}).get("volumes") or []:
        name = volume["name"]
        target = scratch / "volumes" / name
        target.mkdir(parents=True, exist_ok=True)
        dirs[name] = target
        if "emptyDir" in volume:
            continue
        if "configMap" in volume:
            _write_keys(target, "ConfigMap", volume["configMap"], lookup=lookup, volume=name)
        elif "secret" in volume:
            _write_keys(target, "Secret", volume["secret"], lookup=lookup, volume=name)
        elif "projected" in volume:
            _write_projected(pod, target, volume["projected"].get("sources") or [], lookup, name)
        else:
            kinds = sorted(set(volume) - {"name"})
            raise JobRunnerError(f"volume {name}: {kinds} volumes cannot be provided locally")
    return dirs


def path_rewriter(container: Doc, volumes: Mapping[str, Path]) -> Callable[[str], str]:
    """Replace each mount path (longest first, whole path components only) by its local directory."""
    mounts = []
    for mount in container.get("volumeMounts") or []:
        if mount["name"] not in volumes:
            raise JobRunnerError(f"container {container['name']} mounts unknown volume {mount['name']}")
        local = volumes[mount["name"]] / mount.get("subPath", "")
        mounts.append((mount["mountPath"].rstrip("/") or "/", str(local)))
    mounts.sort(key=lambda m: len(m[0]), reverse=True)
    if not mounts:
        return lambda text: text
    pattern = re.compile("|".join(rf"(?<![\w.-]){re.escape(path)}(?=/|$|[^\w.-])" for path, _ in mounts))
    table = dict(mounts)
    return lambda text: pattern.sub(lambda m: table[m.group(0)], text)


def _command(pod: Doc, container: Doc, volumes: Mapping[str, Path], lookup: Lookup, base: Mapping[str, str]) -> Command:
    name = container["name"]
    if not container.get("command"):
        raise JobRunnerError(
            f"container {name} has no command: the image's entrypoint is unknown here, so the job runner "
            "needs an explicit command"
        )
    rewrite = path_rewriter(container, volumes)
    own = {k: rewrite(v) for k, v in container_env(pod, container, lookup).items()}
    argv = [rewrite(expand(arg, own)) for arg in [*container["command"], *(container.get("args") or [])]]
    cwd = container.get("workingDir")
    return Command(name, argv, {**base, **own}, Path(rewrite(cwd)) if cwd else None)


def workload(pod: Doc, scratch: Path, lookup: Lookup, base_env: Mapping[str, str] | None = None) -> Workload:
    """What running `pod` locally means; writes its volumes under `scratch`."""
    base = dict(os.environ if base_env is None else base_env)
    volumes = materialize_volumes(pod, scratch, lookup)
    spec = pod.get("spec", {})
    return Workload(
        init=[_command(pod, c, volumes, lookup, base) for c in spec.get("initContainers") or []],
        main=[_command(pod, c, volumes, lookup, base) for c in spec.get("containers") or []],
    )


def log_tail(output: str, lines: int = 80, limit: int = 2048) -> str:
    """The kubelet's FallbackToLogsOnError message: the last 80 lines, at most 2048 bytes."""
    tail = "\n".join(output.rstrip().splitlines()[-lines:])
    return tail.encode()[-limit:].decode(errors="ignore")


def pod_status_patch(pod: Doc, run: PodRun, now: str) -> Doc:
    """The status a kubelet would report once the pod's containers have exited."""
    code = run.exit_code

    def terminated(c: ContainerRun, container: Doc) -> Doc:
        state: Doc = {"exitCode": c.exit_code, "reason": "Completed" if c.exit_code == 0 else "Error"}
        if c.exit_code and container.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            state["message"] = log_tail(c.output)  # as the kubelet does when the container wrote no message file
        return {"terminated": {**state, "startedAt": now, "finishedAt": now}}

    def statuses(containers: list[Doc], runs: list[ContainerRun]) -> list[Doc]:
        by_name = {r.container: r for r in runs}
        out = []
        for c in containers:
            r = by_name.get(c["name"])
            state = terminated(r, c) if r else {"waiting": {"reason": "PodInitializing"}}
            out.append({"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False})
            out[-1].update({"restartCount": 0, "started": False, "state": state})
        return out

    spec = pod.get("spec", {})
    # All four, since a merge patch replaces the list: scheduled and initialized, no longer ready.
    done = {"status": "False", "reason": "PodCompleted", "lastTransitionTime": now}
    conditions = [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
        {"type": "Initialized", "status": str(all(r.exit_code == 0 for r in run.init)), "lastTransitionTime": now},
        {"type": "ContainersReady", **done},
        {"type": "Ready", **done},
    ]
    status: Doc = {
        "phase": "Succeeded" if code == 0 else "Failed",
        "conditions": conditions,
        "containerStatuses": statuses(spec.get("containers") or [], run.main),
    }
    if spec.get("initContainers"):
        status["initContainerStatuses"] = statuses(spec["initContainers"], run.init)
    return {"status": status}


# --- the impure part: run the commands, talk to the cluster ------------------------------------


def run_command(command: Command, timeout: float, cwd: Path | None) -> ContainerRun:
    try:
        proc = subprocess.run(
            command.argv,
            env=command.env,
            cwd=command.cwd or cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        return ContainerRun(command.container, NOT_FOUND_EXIT, f"{exc}\n")
    except subprocess.TimeoutExpired as exc:
        raise JobRunnerError(f"container {command.container} did not exit within {timeout:.0f}s") from exc
    return ContainerRun(command.container, proc.returncode, proc.stdout[-OUTPUT_LIMIT:])


def run_workload(work: Workload, pod_name: str, timeout: float, cwd: Path | None) -> PodRun:
    deadline = time.monotonic() + timeout
    init: list[ContainerRun] = []
    for command in work.init:
        init.append(run_command(command, max(1.0, deadline - time.monotonic()), cwd))
        if init[-1].exit_code:
            return PodRun(pod_name, init, [])
    main = [run_command(c, max(1.0, deadline - time.monotonic()), cwd) for c in work.main]
    return PodRun(pod_name, init, main)


def cluster_lookup(core: CoreV1Api, namespace: str) -> Lookup:
    def lookup(kind: str, name: str) -> Mapping[str, str]:
        try:
            if kind == "ConfigMap":
                return dict(core.read_namespaced_config_map(name, namespace).data or {})
            raw = core.read_namespaced_secret(name, namespace).data or {}
        except ApiException as exc:
            raise JobRunnerError(f"cannot read {kind} {namespace}/{name}: {exc.status} {exc.reason}") from exc
        return {k: base64.b64decode(v).decode() for k, v in raw.items()}

    return lookup


def _job_verdict(job: Doc) -> bool | None:
    for cond in job.get("status", {}).get("conditions") or []:
        if cond["status"] == "True" and cond["type"] in ("Complete", "Failed"):
            return bool(cond["type"] == "Complete")
    return None


def _doc(api: ApiClient, obj: object) -> Doc:
    """The object as the API server's JSON (camelCase), easier to read than the client's models."""
    return cast(Doc, api.sanitize_for_serialization(obj))  # type: ignore[no-untyped-call]


def run_job(
    api: ApiClient,
    namespace: str,
    name: str,
    *,
    timeout: float = 300.0,
    cwd: Path | None = None,
    poll: float = 0.25,
) -> JobRun:
    """Run every pod of Job `namespace/name` as it becomes Running, until the Job is Complete or Failed.

    Returns the Job controller's verdict and what each pod run printed and exited with.
    """
    core, batch = CoreV1Api(api), BatchV1Api(api)
    deadline = time.monotonic() + timeout
    done: set[str] = set()
    runs: list[PodRun] = []
    while True:
        job = _doc(api, batch.read_namespaced_job(name, namespace))
        verdict = _job_verdict(job)
        if verdict is not None:
            return JobRun(name, verdict, runs)
        if time.monotonic() > deadline:
            raise JobRunnerError(f"Job {namespace}/{name} did not finish within {timeout:.0f}s ({len(runs)} pods run)")
        selector = f"{JOB_UID_LABEL}={job['metadata']['uid']}"
        for item in core.list_namespaced_pod(namespace, label_selector=selector).items:
            pod = _doc(api, item)
            meta = pod["metadata"]
            if meta["uid"] in done or meta.get("deletionTimestamp") or pod.get("status", {}).get("phase") != "Running":
                continue
            with tempfile.TemporaryDirectory(prefix=f"clickcast-job-{meta['name']}-") as scratch:
                work = workload(pod, Path(scratch), cluster_lookup(core, namespace))
                run = run_workload(work, meta["name"], max(1.0, deadline - time.monotonic()), cwd)
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            core.patch_namespaced_pod_status(meta["name"], namespace, pod_status_patch(pod, run, now))
            done.add(meta["uid"])
            runs.append(run)
        time.sleep(poll)
