"""What a kubelet decides, as pure functions: pod IPs, probes, restarts and the pod status they add up to.

The pod runner (podrunner.py) carries these decisions out with local
processes and the API server; nothing here starts a process, reads a clock or
talks to the cluster (the caller passes `now`).

- **Addresses.** Every pod gets its own loopback address (`next_address`, from
  127.1.0.0/16 by default: Linux routes all of 127.0.0.0/8 to `lo`, so a
  process can bind any of them without configuration), so two pods can both
  listen on port 3000 and probes and scrapes reach the pod they mean.
- **Probes.** `parse_probe` reads a container's readinessProbe; `ProbeState`
  counts consecutive results against successThreshold / failureThreshold
  as the kubelet does (unready until the probe succeeds, when there is one).
- **Restarts.** `should_restart` applies the pod's restartPolicy to an exit
  code; `backoff_seconds` is the kubelet's crash-loop delay (10 s doubling, at
  most 300 s).
- **Status.** `pod_status` renders the whole status a kubelet would report
  (phase, the four conditions, containerStatuses with state, lastState,
  restartCount and ready, podIP), to be written with one merge patch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Doc = dict[str, Any]

POD_NETWORK = "127.1.0.0/16"
"""Where pod addresses come from: loopback, so only this machine reaches them."""
HOST_IP = "127.0.0.1"
"""Every pod's node is this machine."""
BACKOFF_START, BACKOFF_MAX = 10.0, 300.0


def cluster_network(cluster: str, taken: Collection[str] = ()) -> str:
    """A /16 of 127.0.0.0/8 for one cluster's pods: the one its name hashes to, or the next one not `taken`.

    `taken` are the networks of the other clusters that run now (two clusters started at once, e.g. by
    parallel test workers, must never share an address). 127.0.0.0/16, where 127.0.0.1 and the API
    servers live, is never chosen.
    """
    first = int.from_bytes(hashlib.sha256(cluster.encode()).digest()[:2], "big") % 254
    for step in range(254):
        network = f"127.{1 + (first + step) % 254}.0.0/16"
        if network not in taken:
            return network
    raise AddressesExhausted(f"every 127.x.0.0/16 is taken by another cluster ({len(taken)} clusters)")


class AddressesExhausted(Exception):  # noqa: N818 - the condition, as the kubelet's IPAM reports it
    """Every address of the pod network is in use."""


def next_address(used: Collection[str], network: str = POD_NETWORK) -> str:
    """The lowest host address of `network` not in `used` (the network and broadcast addresses are skipped)."""
    for address in ipaddress.ip_network(network).hosts():
        if str(address) not in used:
            return str(address)
    raise AddressesExhausted(f"all {ipaddress.ip_network(network).num_addresses - 2} pod addresses are in use")


def in_network(address: str | None, network: str = POD_NETWORK) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address) in ipaddress.ip_network(network)
    except ValueError:
        return False


# --- probes ---------------------------------------------------------------------------------------


class ProbeKind(StrEnum):
    HTTP = "httpGet"
    TCP = "tcpSocket"
    EXEC = "exec"


@dataclass(frozen=True)
class Probe:
    kind: ProbeKind
    port: int | None = None  # httpGet and tcpSocket
    path: str = "/"
    scheme: str = "HTTP"
    host: str | None = None  # httpGet: defaults to the pod IP
    command: tuple[str, ...] = ()  # exec
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3


class ProbeError(ValueError):
    """A probe the runner cannot carry out (a named port the container does not declare, gRPC...)."""


def _port(value: int | str, container: Doc) -> int:
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    for port in container.get("ports") or []:
        if port.get("name") == value:
            return int(port["containerPort"])
    raise ProbeError(f"container {container.get('name')} has no port named {value!r}")


def parse_probe(container: Doc, key: str = "readinessProbe") -> Probe | None:
    """The container's probe (`readinessProbe` by default) with Kubernetes' defaults; None when it has none."""
    spec = container.get(key)
    if not spec:
        return None
    timing: dict[str, Any] = {
        "initial_delay": float(spec.get("initialDelaySeconds", 0)),
        "period": float(spec.get("periodSeconds", 10)),
        "timeout": float(spec.get("timeoutSeconds", 1)),
        "success_threshold": int(spec.get("successThreshold", 1)),
        "failure_threshold": int(spec.get("failureThreshold", 3)),
    }
    if http := spec.get("httpGet"):
        return Probe(ProbeKind.HTTP, port=_port(http["port"], container), path=http.get("path", "/"),
                     scheme=http.get("scheme", "HTTP"), host=http.get("host"), **timing)  # fmt: skip
    if tcp := spec.get("tcpSocket"):
        return Probe(ProbeKind.TCP, port=_port(tcp["port"], container), host=tcp.get("host"), **timing)
    if exe := spec.get("exec"):
        return Probe(ProbeKind.EXEC, command=tuple(exe.get("command") or ()), **timing)
    kinds = sorted(
        set(spec)
        - {
            "initialDelaySeconds",
            "periodSeconds",
            "timeoutSeconds",
            "successThreshold",
            "failureThreshold",
            "terminationGracePeriodSeconds",
        }
    )
    raise ProbeError(f"container {container.get('name')}: {kinds} probes are not supported")


@dataclass(frozen=True)
class ProbeState:
    """Consecutive results of one container's readiness probe; `ready` flips at the thresholds."""

    ready: bool = False
    successes: int = 0
    failures: int = 0

    def observe(self, probe: Probe, success: bool) -> ProbeState:
        if success:
            successes = self.successes + 1
            return ProbeState(self.ready or successes >= probe.success_threshold, successes, 0)
        failures = self.failures + 1
        return ProbeState(self.ready and failures < probe.failure_threshold, 0, failures)


def probe_due(probe: Probe, started: float, last: float | None, now: float) -> bool:
    """Whether the probe runs now: after initialDelaySeconds, then every periodSeconds."""
    if now < started + probe.initial_delay:
        return False
    return last is None or now >= last + probe.period


# --- restarts -------------------------------------------------------------------------------------


def should_restart(policy: str, exit_code: int) -> bool:
    """The pod's restartPolicy (Always, OnFailure, Never) applied to a main container's exit."""
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def backoff_seconds(restarts: int) -> float:
    """The kubelet's crash-loop delay before restart number `restarts` + 1: 10 s, 20 s, 40 s ... at most 300 s."""
    return float(min(BACKOFF_MAX, BACKOFF_START * 2.0 ** max(0, restarts)))


# --- status ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerView:
    """One container as the kubelet reports it."""

    name: str
    image: str
    state: Doc  # {"running": {...}} | {"waiting": {...}} | {"terminated": {...}}
    ready: bool = False
    restarts: int = 0
    last_state: Doc = dataclasses.field(default_factory=dict)

    def as_status(self) -> Doc:
        return {
            "name": self.name, "image": self.image, "imageID": "", "ready": self.ready,
            "started": "running" in self.state, "restartCount": self.restarts,
            "state": self.state, "lastState": self.last_state,
        }  # fmt: skip


def running(started_at: str) -> Doc:
    return {"running": {"startedAt": started_at}}


def waiting(reason: str, message: str = "") -> Doc:
    return {"waiting": {"reason": reason, **({"message": message} if message else {})}}


def terminated(exit_code: int, started_at: str, finished_at: str, message: str = "") -> Doc:
    reason = "Completed" if exit_code == 0 else "Error"
    state: Doc = {"exitCode": exit_code, "reason": reason, "startedAt": started_at, "finishedAt": finished_at}
    return {"terminated": {**state, **({"message": message} if message else {})}}


def phase(policy: str, containers: Sequence[ContainerView], init_failed: bool) -> str:
    """Pending until every container has started; Succeeded/Failed once none will run again; else Running."""
    if init_failed and policy == "Never":
        return "Failed"
    codes = [c.state["terminated"]["exitCode"] for c in containers if "terminated" in c.state]
    if containers and len(codes) == len(containers):  # every container exited and none is restarting
        return "Succeeded" if all(code == 0 for code in codes) else "Failed"
    if any("running" in c.state or c.restarts or "terminated" in c.state for c in containers):
        return "Running"
    return "Pending"


def pod_status(
    *,
    policy: str,
    pod_ip: str,
    start_time: str,
    now: str,
    init: Sequence[ContainerView],
    containers: Sequence[ContainerView],
    previous: Doc | None = None,
) -> Doc:
    """The pod's whole status (for a merge patch). `previous` keeps a condition's lastTransitionTime unchanged."""
    init_done = all("terminated" in c.state and c.state["terminated"]["exitCode"] == 0 for c in init)
    init_failed = any("terminated" in c.state and c.state["terminated"]["exitCode"] != 0 for c in init)
    current = phase(policy, containers, init_failed) if init_done or init_failed else "Pending"
    ready = current == "Running" and bool(containers) and all(c.ready for c in containers)
    finished = current in ("Succeeded", "Failed")
    values = {
        "PodScheduled": ("True", ""),
        "Initialized": ("True" if init_done else "False", "" if init_done else "ContainersNotInitialized"),
        "ContainersReady": ("True", "") if ready else ("False", "PodCompleted" if finished else "ContainersNotReady"),
        "Ready": ("True", "") if ready else ("False", "PodCompleted" if finished else "ContainersNotReady"),
    }
    before = {c["type"]: c for c in ((previous or {}).get("conditions") or [])}
    conditions = []
    for kind, (value, reason) in values.items():
        old = before.get(kind)
        unchanged = old is not None and old.get("status") == value and old.get("lastTransitionTime")
        since = old["lastTransitionTime"] if old is not None and unchanged else now
        condition = {"type": kind, "status": value, "lastTransitionTime": since}
        conditions.append({**condition, **({"reason": reason} if reason else {})})
    status: Doc = {
        "phase": current,
        "conditions": conditions,
        "hostIP": HOST_IP,
        "hostIPs": [{"ip": HOST_IP}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": start_time,
        "containerStatuses": [c.as_status() for c in containers],
    }
    if init:
        status["initContainerStatuses"] = [c.as_status() for c in init]
    return status


def without_times(status: Doc) -> Doc:
    """The status without its timestamps: what decides whether a new patch says anything new."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("lastTransitionTime",)}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return dict(strip(status))
