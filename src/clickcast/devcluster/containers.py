"""The workload runner's container mode: each container of a pod runs from its image with podman (runc).

The pure part turns a pod, one of its containers and the directories its volumes were written to
(jobrunner.materialize_volumes) into the `podman run` command line, the way a kubelet turns a pod spec
into a container runtime's request:

- the image's ENTRYPOINT/CMD unless the container gives `command`/`args` (`$(VAR)` expanded first);
- env and envFrom as variables, passed by name only (their values travel in podman's environment, never on
  a command line that `ps` shows);
- every volumeMount as a bind mount (read-only where the mount says so, and always for configMap, secret and
  projected volumes, as the kubelet mounts them), subPath included;
- securityContext, the container's over the pod's: runAsUser/runAsGroup, fsGroup and supplementalGroups,
  runAsNonRoot (checked against the image's user, as the kubelet does), readOnlyRootFilesystem (without the
  scratch tmpfs podman would add: only emptyDir is writable, as in a cluster), capabilities,
  allowPrivilegeEscalation and privileged;
- the host's network (the only one runc can use here), so a pod's address is one of the runner's loopback
  addresses: the pod network's sitecustomize (podnet/) and the Service table are mounted read-only and named
  in the environment, as the process mode does through PYTHONPATH;
- the limits runc can set on this machine (higher ones are refused without CAP_SYS_RESOURCE), never the
  host's proxy variables (`--http-proxy=false`), and a label naming the runner, so whatever a killed runner
  left behind can be found and removed.

`own_volumes` gives the written files the modes and group a kubelet would (defaultMode/mode, fsGroup), so a
non-root container reads its Secrets and writes its emptyDirs and nothing else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from clickcast.devcluster.jobrunner import Command, Doc, JobRunnerError, Lookup, container_env, expand

ULIMITS = ("nofile=1024:4096", "nproc=4096:4096")
"""runc here refuses the host's higher limits (`error setting rlimit`; there is no CAP_SYS_RESOURCE)."""
MARK_LABEL = "io.clickcast.workload-runner"
"""Label on every container the runner starts: its state directory (how `down` finds leftovers)."""
PODNET_MOUNT = "/run/clickcast/podnet"
NETWORK_MOUNT = "/run/clickcast/net"
READ_ONLY_KINDS = ("configMap", "secret", "projected", "downwardAPI")
"""Volume kinds the kubelet always mounts read-only."""
DEFAULT_MODE = 0o644


@dataclass(frozen=True)
class Engine:
    """How this machine runs containers, and what the runner mounts into every one."""

    podman: str
    """The podman executable (an absolute path: a container's own PATH must not decide which runs)."""
    runtime: str
    """The OCI runtime's absolute path (runc: crun refuses this machine's hybrid cgroups)."""
    mark: str
    """The runner's state directory, on every container as MARK_LABEL."""
    podnet: Path | None = None
    """The pod network's sitecustomize directory (None: no pod network, every pod on 127.0.0.1)."""
    network_dir: Path | None = None
    """The directory of the runner's Service table (mounted, not the file: the runner replaces the file)."""

    def podman_argv(self, *args: str) -> list[str]:
        return [self.podman, "--runtime", self.runtime, *args]


@dataclass(frozen=True)
class Identity:
    """Who a container's processes are, from the pod's and the container's securityContext."""

    user: int | None
    group: int | None
    groups: tuple[int, ...]
    non_root: bool


def identity(pod: Doc, container: Doc) -> Identity:
    """The container's securityContext over the pod's (the kubelet's precedence)."""
    pod_ctx = pod.get("spec", {}).get("securityContext") or {}
    own = container.get("securityContext") or {}

    def pick(key: str) -> object:
        return own[key] if key in own else pod_ctx.get(key)

    user, group = pick("runAsUser"), pick("runAsGroup")
    groups = [*([pod_ctx["fsGroup"]] if "fsGroup" in pod_ctx else []), *(pod_ctx.get("supplementalGroups") or [])]
    return Identity(
        user=int(str(user)) if user is not None else None,
        group=int(str(group)) if group is not None else None,
        groups=tuple(dict.fromkeys(int(g) for g in groups)),
        non_root=bool(pick("runAsNonRoot")),
    )


def check_user(who: Identity, image_user: str, container: str) -> None:
    """runAsNonRoot as the kubelet checks it: a uid 0, or an image user that is not a number, is refused."""
    if not who.non_root:
        return
    if who.user is not None:
        if who.user == 0:
            raise JobRunnerError(f"container {container}: runAsNonRoot and runAsUser 0 (will run as root)")
        return
    name = image_user.split(":", 1)[0]
    if name in ("", "0", "root"):
        raise JobRunnerError(f"container {container} has runAsNonRoot and image will run as root")
    if not name.isdigit():
        raise JobRunnerError(
            f"container {container} has runAsNonRoot and image has non-numeric user ({name}), "
            "cannot verify user is non-root"
        )


def container_name(pod: Doc, container: str) -> str:
    """Unique per pod instance (its uid), readable in `podman ps`: the kubelet's k8s_<container>_<pod>_... form."""
    meta = pod["metadata"]
    return f"k8s_{container}_{meta['name']}_{meta['namespace']}_{meta['uid'][:8]}"


def _security_flags(pod: Doc, container: Doc, who: Identity) -> list[str]:
    own = container.get("securityContext") or {}
    flags: list[str] = []
    if who.user is not None:
        flags += ["--user", f"{who.user}:{who.group}" if who.group is not None else str(who.user)]
    for group in who.groups:
        flags += ["--group-add", str(group)]
    if own.get("privileged"):
        flags.append("--privileged")
    if own.get("readOnlyRootFilesystem"):
        flags += ["--read-only", "--read-only-tmpfs=false"]  # only emptyDir is writable, as in a cluster
    if own.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    caps = own.get("capabilities") or {}
    for cap in caps.get("drop") or []:
        flags += ["--cap-drop", str(cap)]
    for cap in caps.get("add") or []:
        flags += ["--cap-add", str(cap)]
    return flags


def _mounts(pod: Doc, container: Doc, volumes: Mapping[str, Path]) -> list[str]:
    kinds = {v["name"]: next((k for k in v if k != "name"), "") for v in pod.get("spec", {}).get("volumes") or []}
    flags: list[str] = []
    for mount in container.get("volumeMounts") or []:
        name = mount["name"]
        if name not in volumes:
            raise JobRunnerError(f"container {container['name']} mounts unknown volume {name}")
        source = volumes[name] / mount.get("subPath", "")
        read_only = bool(mount.get("readOnly")) or kinds.get(name) in READ_ONLY_KINDS
        flags += ["--volume", f"{source}:{mount['mountPath']}:{'ro' if read_only else 'rw'}"]
    return flags


def run_command(
    engine: Engine,
    pod: Doc,
    container: Doc,
    *,
    volumes: Mapping[str, Path],
    env: Mapping[str, str],
    lookup: Lookup,
    image_user: str,
    address: str,
    host_env: Mapping[str, str],
) -> Command:
    """`podman run` for one container of `pod`, and the environment podman reads its variables from.

    `env` holds what the cluster gives every container (KUBERNETES_SERVICE_HOST...); `host_env` is what
    podman itself needs (PATH, HOME). Nothing of `host_env` reaches the container, and no pod value of a
    variable podman reads reaches podman (those go on the command line: paths, not secrets).
    """
    name = container["name"]
    who = identity(pod, container)
    check_user(who, image_user, name)
    meta = pod["metadata"]
    own = dict(env) | container_env(pod, container, lookup)
    net: dict[str, str] = {}
    mounts: list[str] = []
    if engine.podnet is not None and engine.network_dir is not None:
        python_path = os.pathsep.join(p for p in (PODNET_MOUNT, own.get("PYTHONPATH")) if p)
        net = {"PYTHONPATH": python_path, "CLICKCAST_POD_IP": address,
               "CLICKCAST_SERVICES": f"{NETWORK_MOUNT}/services.json",
               "CLICKCAST_POD": f"{meta['namespace']}/{meta['name']}"}  # fmt: skip
        mounts = [
            "--volume",
            f"{engine.podnet}:{PODNET_MOUNT}:ro",
            "--volume",
            f"{engine.network_dir}:{NETWORK_MOUNT}:ro",
        ]
    variables = own | net
    hostname = str(pod["spec"].get("hostname") or meta["name"])[:63]
    # Values travel by name in podman's environment, except those of variables podman reads for itself.
    inline = {key: value for key, value in variables.items() if engine_reads(key)}
    passed = {key: value for key, value in variables.items() if key not in inline}
    args = [expand(a, variables) for a in container.get("args") or []]
    argv = engine.podman_argv(
        "run", "--rm", "--replace", "--name", container_name(pod, name), "--pull=never",
        # The kubelet writes the pod's name and address into its /etc/hosts (Spark's driver looks itself up).
        "--network=host", "--hostname", hostname, "--add-host", f"{hostname}:{address}",
        "--http-proxy=false", "--log-driver=passthrough", "--stop-timeout",
        str(int(pod["spec"].get("terminationGracePeriodSeconds", 30))),
        "--label", f"{MARK_LABEL}={engine.mark}",
        "--label", f"io.kubernetes.pod.namespace={meta['namespace']}",
        "--label", f"io.kubernetes.pod.name={meta['name']}",
        *(flag for limit in ULIMITS for flag in ("--ulimit", limit)),
        *_security_flags(pod, container, who),
        *_mounts(pod, container, volumes),
        *mounts,
        *(["--workdir", container["workingDir"]] if container.get("workingDir") else []),
        *(flag for key in passed for flag in ("--env", key)),
        *(flag for key, value in inline.items() for flag in ("--env", f"{key}={value}")),
    )  # fmt: skip
    if container.get("command"):
        argv += ["--entrypoint", json.dumps([expand(c, variables) for c in container["command"]])]
    argv += [container["image"], *args]
    return Command(name, argv, dict(host_env) | passed, None)


# Variables podman itself reads (its temporary files, configuration and storage): a pod's own value of one
# (a Job's TMPDIR=/scratch, say) goes on podman's command line, so podman keeps the host's.
ENGINE_VARIABLES = frozenset(
    {
        "PATH",
        "HOME",
        "TMPDIR",
        "USER",
        "LANG",
        "TZ",
        "NOTIFY_SOCKET",
        "DBUS_SESSION_BUS_ADDRESS",
        "REGISTRY_AUTH_FILE",
        "STORAGE_DRIVER",
        "STORAGE_OPTS",
    }
)
ENGINE_PREFIXES = ("XDG_", "CONTAINERS_", "CONTAINER_", "_CONTAINERS_", "PODMAN_", "BUILDAH_", "LC_")


def engine_reads(name: str) -> bool:
    """Whether podman reads variable `name` for itself (then a pod's value must not be in podman's environment)."""
    return name in ENGINE_VARIABLES or name.startswith(ENGINE_PREFIXES)


def exec_prefix(engine: Engine, name: str) -> list[str]:
    """An exec probe runs inside the container, as the kubelet's does."""
    return engine.podman_argv("exec", name)


def own_volumes(pod: Doc, volumes: Mapping[str, Path]) -> None:
    """Modes and group as the kubelet leaves them: defaultMode/mode on configMap, secret and projected files
    (group-readable by fsGroup), emptyDir writable by anyone (by fsGroup's group, setgid, with one)."""
    spec = pod.get("spec", {})
    fs_group = (spec.get("securityContext") or {}).get("fsGroup")
    for volume in spec.get("volumes") or []:
        root = volumes.get(volume["name"])
        if root is None:
            continue
        if "emptyDir" in volume:
            root.chmod(0o2777 if fs_group is not None else 0o777)
            if fs_group is not None:
                os.chown(root, -1, int(fs_group))
            continue
        source: Doc = next((volume[k] for k in READ_ONLY_KINDS if k in volume), {})
        modes = {item["path"]: int(item["mode"]) for item in source.get("items") or [] if "mode" in item}
        default = int(source.get("defaultMode", DEFAULT_MODE))
        for path in sorted(root.rglob("*")):
            relative = str(path.relative_to(root))
            group_read = 0o440 if fs_group is not None else 0
            mode = 0o755 if path.is_dir() else modes.get(relative, default) | group_read
            path.chmod(mode)
            if fs_group is not None:
                os.chown(path, -1, int(fs_group))
        root.chmod(0o755)


def leftovers_argv(engine: Engine) -> list[str]:
    """Lists the ids of every container this runner started and did not remove (it was killed)."""
    return engine.podman_argv("ps", "--all", "--quiet", "--filter", f"label={MARK_LABEL}={engine.mark}")
