"""Local stand-ins for the model's Services: HTTP listeners that forward each request to a serving process.

The stable endpoint (what users call) spreads requests over the stable process and, in a split canary by
replica ratio, the canary process, by their replica counts; the canary endpoint (what stable mirrors to in
shadow mode) reaches the canary process only. The backends behind an endpoint are swapped atomically, so a
roll from one version to the next drops no request: requests already forwarded finish on the old process,
which is stopped only after a drain delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HOP_HEADERS = frozenset({"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "upgrade"})
TIMEOUT = httpx.Timeout(60.0, connect=5.0)


@dataclass(frozen=True)
class Target:
    """A ready serving process and its share (its replica count) of the endpoint's traffic."""

    url: str
    weight: int


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def pick(targets: Sequence[Target], draw: Callable[[], float] = random.random) -> Target | None:
    """One target, with probability proportional to its weight."""
    total = sum(t.weight for t in targets if t.weight > 0)
    if total <= 0:
        return None
    point = draw() * total
    for target in targets:
        if target.weight <= 0:
            continue
        point -= target.weight
        if point < 0:
            return target
    return [t for t in targets if t.weight > 0][-1]


class Endpoint:
    """One listener on `host:port` forwarding to whatever `targets()` returns at the time of each request."""

    def __init__(self, name: str, host: str, port: int, targets: Callable[[], Sequence[Target]]) -> None:
        self.name, self.host = name, host
        self.port = port or free_port(host)
        self.targets = targets
        self._client: httpx.AsyncClient | None = None
        app = Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "POST", "PUT", "DELETE"])])
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=TIMEOUT)
        self._task = asyncio.create_task(self._server.serve(), name=f"endpoint-{self.name}")
        while not self._server.started:
            if self._task.done():  # e.g. the port is taken: raise its error
                await self._task
                raise OSError(f"{self.name} endpoint could not listen on {self.host}:{self.port}")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, SystemExit):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    async def _forward(self, request: Request) -> Response:
        target = pick(self.targets())
        if target is None or self._client is None:
            return JSONResponse({"detail": f"no ready backend behind the {self.name} endpoint"}, status_code=503)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        url = f"{target.url}{request.url.path}" + (f"?{request.url.query}" if request.url.query else "")
        try:
            upstream = await self._client.request(request.method, url, headers=headers, content=await request.body())
        except httpx.HTTPError as exc:
            return JSONResponse({"detail": f"{self.name} backend {target.url} failed: {exc}"}, status_code=502)
        kept = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS | {"content-encoding"}}
        return Response(upstream.content, status_code=upstream.status_code, headers=kept)
