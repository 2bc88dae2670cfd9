"""Serving roles as local `clickcast serve` processes behind the local endpoints (the Deployments' stand-in).

One process per role. Deploying a different version or traffic setting starts a new process beside the old
one and switches the endpoint to it once it answers `/readyz` (the old one drains, then stops), as a rolling
update never drops below its ready replicas. `replicas` is kept as the role's weight behind the stable
endpoint (a split canary by replica ratio), not as more processes. A process that dies is started again.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from clickcast.api.roles import Role
from clickcast.api.spec import ClickModelSpec
from clickcast.api.traffic import Traffic
from clickcast.core.observed import Rollout
from clickcast.core.plan import Deploy, VersionPin
from clickcast.local import processes
from clickcast.local.frontend import Endpoint, Target, free_port
from clickcast.local.processes import Child
from clickcast.runtime.outcomes import prediction_log

HOST = "127.0.0.1"
DRAIN_SECONDS = 2.0
FLUSH_INTERVAL = "1s"


@dataclass
class Backend:
    """One serving process: the version it serves and how it takes part in traffic."""

    role: Role
    pin: VersionPin
    traffic: Traffic
    replicas: int
    port: int
    child: Child
    ready: bool = False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def same_process(self, action: Deploy) -> bool:
        """Would `action` keep this process (replicas alone only change its weight)?"""
        return (self.pin, self.traffic) == (action.pin, action.traffic)


@dataclass
class LocalServices:
    state_dir: Path
    port: int = 3000
    """The stable endpoint's port (0: any free port)."""
    active: dict[Role, Backend] = field(default_factory=dict)
    """The process each endpoint sends to."""
    pending: dict[Role, Backend] = field(default_factory=dict)
    """A process started for the role's next configuration, not ready yet."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Set on every serving process (the runner's mark)."""
    _draining: dict[asyncio.Task[None], Backend] = field(default_factory=dict)
    _ports: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.stable = Endpoint("stable", HOST, self.port, self._stable_targets)
        self.canary = Endpoint("canary", HOST, 0, self._canary_targets)
        self._http = httpx.AsyncClient(timeout=2.0)
        # The shadow mirror's token: stable sends it, the canary honours only it (clickcast.serving.app).
        self._mirror_token = secrets.token_hex(16)

    def _stable_targets(self) -> list[Target]:
        out = []
        if (s := self.active.get(Role.STABLE)) is not None:
            out.append(Target(s.url, s.replicas))
        if (c := self.active.get(Role.CANARY)) is not None and c.traffic is Traffic.SHARE:
            out.append(Target(c.url, c.replicas))
        return out

    def _canary_targets(self) -> list[Target]:
        c = self.active.get(Role.CANARY)
        return [Target(c.url, 1)] if c is not None else []

    async def start(self) -> None:
        for endpoint in (self.stable, self.canary):
            await endpoint.start()
            self._ports.add(endpoint.port)

    async def stop(self) -> None:
        """Stop every serving process (draining ones at once too), then the endpoints."""
        backends = [*self.active.values(), *self.pending.values(), *self._draining.values()]
        for task in self._draining:
            task.cancel()
        self.active.clear()
        self.pending.clear()
        self._draining.clear()
        await asyncio.to_thread(processes.stop_all, [b.child for b in backends])
        await self.stable.stop()
        await self.canary.stop()
        await self._http.aclose()

    def ports(self) -> set[int]:
        """Every port this runner's endpoints and serving processes listened on (or were to)."""
        return set(self._ports)

    def log(self, role: Role) -> Path:
        return self.state_dir / "serving" / f"{role}.log"

    # --- the executor's side -------------------------------------------------------------------

    async def deploy(self, name: str, spec: ClickModelSpec, action: Deploy) -> None:
        replicas = action.replicas or (spec.serving.replicas if action.role is Role.STABLE else 1)
        for backend in (self.pending.get(action.role), self.active.get(action.role)):
            if backend is not None and backend.same_process(action):
                backend.replicas = replicas
                if backend is self.active.get(action.role):
                    await self._discard_pending(action.role)
                return
        await self._discard_pending(action.role)
        port = free_port(HOST)
        argv = [sys.executable, "-m", "clickcast", "serve", "--model", action.pin.uri,
                "--sha256", action.pin.manifest_sha256,
                "--host", HOST, "--port", str(port), "--role", str(action.role), "--name", name,
                "--prediction-log", prediction_log(name, spec), "--flush-interval", FLUSH_INTERVAL]  # fmt: skip
        if action.traffic is Traffic.MIRROR:
            argv += ["--shadow", self.canary.url]
        child = processes.start(argv, self.log(action.role), env={**self.env, "MIRROR_TOKEN": self._mirror_token})
        self._ports.add(port)
        self.pending[action.role] = Backend(action.role, action.pin, action.traffic, replicas, port, child)

    async def retire(self, role: Role) -> None:
        await self._discard_pending(role)
        backend = self.active.pop(role, None)
        if backend is not None:
            self._drain(backend)

    async def _discard_pending(self, role: Role) -> None:
        backend = self.pending.pop(role, None)
        if backend is not None:
            await asyncio.to_thread(processes.stop, backend.child)

    def _drain(self, backend: Backend) -> None:
        async def drain() -> None:
            await asyncio.sleep(DRAIN_SECONDS)  # requests already forwarded to it finish first
            await asyncio.to_thread(processes.stop, backend.child)

        task = asyncio.create_task(drain())
        self._draining[task] = backend
        task.add_done_callback(lambda done: self._draining.pop(done, None))

    # --- the observer's side -------------------------------------------------------------------

    async def poll(self) -> None:
        """Switch to processes that became ready; start again those that died."""
        for role, backend in list(self.pending.items()):
            if backend.child.exit_code is not None:
                del self.pending[role]  # crashed before ready: start it again (a Deployment's restart)
                self.pending[role] = self._restart(backend)
            elif await self._ready(backend):
                backend.ready = True
                del self.pending[role]
                old = self.active.get(role)
                self.active[role] = backend
                if old is not None:
                    self._drain(old)
        for role, backend in list(self.active.items()):
            if backend.child.exit_code is not None and role not in self.pending:
                del self.active[role]
                self.pending[role] = self._restart(backend)

    def _restart(self, backend: Backend) -> Backend:
        child = processes.start(backend.child.argv, backend.child.log,
                                env={**self.env, "MIRROR_TOKEN": self._mirror_token})  # fmt: skip
        return Backend(backend.role, backend.pin, backend.traffic, backend.replicas, backend.port, child)

    async def _ready(self, backend: Backend) -> bool:
        try:
            return (await self._http.get(f"{backend.url}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    def rollouts(self) -> dict[Role, Rollout]:
        out: dict[Role, Rollout] = {}
        for role in (Role.STABLE, Role.CANARY):
            active, pending = self.active.get(role), self.pending.get(role)
            shown = pending or active
            if shown is None:
                continue
            ready = active.replicas if active is not None else 0
            out[role] = Rollout(
                version=shown.pin.version, manifest_sha256=shown.pin.manifest_sha256, desired=shown.replicas,
                ready=ready if pending is None else min(ready, shown.replicas),
                updated=0 if pending is not None else shown.replicas, traffic=shown.traffic,
            )  # fmt: skip
        return out

    def metrics_urls(self, role: Role) -> list[str]:
        backend = self.active.get(role)
        return [f"{backend.url}/metrics"] if backend is not None else []
