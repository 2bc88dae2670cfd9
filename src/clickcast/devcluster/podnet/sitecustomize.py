"""A pod's own network, for Python: the workload runner puts this directory first on a pod's PYTHONPATH.

In a cluster each pod has its own network namespace and Services have names. The workload runner's pods share
the host's network, so Python imports this module at start-up (`site` imports `sitecustomize`) and

- a bind to the wildcard address (0.0.0.0, "::" or "") binds the pod's own 127.x address (CLICKCAST_POD_IP):
  two pods' servers both listen on port 3000, as in a cluster. Explicit addresses are left alone;
- a Service name (`name`, `name.namespace`, `name.namespace.svc[.cluster.local]`) resolves to one of its ready
  pods, at the target port of the Service port asked for, from the table the runner keeps in the file named
  by CLICKCAST_SERVICES (clickcast.devcluster.services): DNS and kube-proxy in one, for the socket module's
  getaddrinfo and uvloop's (asyncio's default loop goes through the first). Other names resolve as they
  would anyway. A client that keeps the port it asked for and takes only the address (anyio, so httpx)
  reaches the pod only where the target port is the Service port, as in clickcast's own Services.

Processes that are not Python (Spark's JVMs) get neither: they bind the pod IP they are given.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import socket
from typing import Any

_POD_IP = os.environ.get("CLICKCAST_POD_IP")
_SERVICES = os.environ.get("CLICKCAST_SERVICES")
_NAMESPACE = os.environ.get("CLICKCAST_POD", "default/").split("/")[0]
_WILDCARDS = ("", "0.0.0.0", "::")  # what is rewritten, not bound
_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_SERVICE_NAME = re.compile(rf"^(?P<name>{_LABEL})(?:\.(?P<namespace>{_LABEL}))?(?:\.svc(?:\.cluster\.local)?)?\.?$")


def _pod_bind(bind: Any, pod_ip: str) -> Any:
    def bound(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address and address[0] in _WILDCARDS:
            if self.family == socket.AF_INET:
                address = (pod_ip, *address[1:])
            elif self.family == socket.AF_INET6:
                address = (f"::ffff:{pod_ip}", *address[1:])  # a dual-stack socket takes IPv4 on its mapped form
        bind(self, address)

    return bound


_read: dict[str, tuple[int, dict[str, Any]]] = {}  # table file -> (its mtime_ns, its contents)


def _table(table_file: str) -> dict[str, Any]:
    """The runner's Service table, read again only when the runner has replaced it."""
    try:
        mtime = os.stat(table_file).st_mtime_ns
        if table_file not in _read or _read[table_file][0] != mtime:
            with open(table_file, encoding="utf-8") as handle:
                _read[table_file] = (mtime, json.load(handle))
    except (OSError, ValueError):
        return {}
    return _read[table_file][1]


def service_endpoint(table_file: str, namespace: str, host: Any, port: Any) -> tuple[str, int] | None:
    """A ready pod's (address, target port) behind Service `host` on `port`; None if `host` names no Service."""
    if isinstance(host, bytes):  # anyio (httpx's transport) passes the host encoded
        host = host.decode("ascii", "replace")
    found = _SERVICE_NAME.match(host) if isinstance(host, str) else None
    if found is None or port is None:
        return None
    table = _table(table_file)
    endpoints = table.get(f"{found['name']}.{found['namespace'] or namespace}", {}).get(str(port))
    if not endpoints:
        return None
    address, target = random.choice(endpoints)  # spreads the load, as kube-proxy does
    return str(address), int(target)


def _service_getaddrinfo(getaddrinfo: Any, table_file: str) -> Any:
    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        endpoint = service_endpoint(table_file, _NAMESPACE, host, port)
        return getaddrinfo(*(endpoint or (host, port)), *args, **kwargs)

    return resolve


def _uvloop_getaddrinfo(getaddrinfo: Any, table_file: str) -> Any:
    async def resolve(self: Any, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        endpoint = service_endpoint(table_file, _NAMESPACE, host, port)
        return await getaddrinfo(self, *(endpoint or (host, port)), *args, **kwargs)

    return resolve


if _POD_IP:
    socket.socket.bind = _pod_bind(socket.socket.bind, _POD_IP)  # type: ignore[method-assign]
if _SERVICES:
    socket.getaddrinfo = _service_getaddrinfo(socket.getaddrinfo, _SERVICES)
    # uvloop (BentoML's event loop) resolves in libuv, not through the socket module: its loop's own method.
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop

        uvloop.Loop.getaddrinfo = _uvloop_getaddrinfo(uvloop.Loop.getaddrinfo, _SERVICES)  # type: ignore[method-assign]
