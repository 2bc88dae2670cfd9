"""Services on the local cluster: which ready pods answer for each Service port (DNS and kube-proxy's part).

The API server refuses loopback addresses in EndpointSlices, so the workload runner keeps this table itself
(from Services and the pods it runs) and its pods' Python processes resolve Service names from it
(podnet/sitecustomize.py). Pure functions; the runner writes the table to a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Doc = dict[str, Any]
Table = dict[str, dict[str, list[tuple[str, int]]]]
"""`name.namespace` -> Service port -> the (address, port) of each ready pod behind it."""


def _target(port: Doc, pod: Doc) -> int | None:
    """The pod port a Service port sends to: a number, or a container port's name (None if the pod has none)."""
    target = port.get("targetPort") or port["port"]
    if isinstance(target, int) or str(target).isdigit():
        return int(str(target))
    for container in pod["spec"]["containers"]:
        for p in container.get("ports") or []:
            if p.get("name") == target:
                return int(p["containerPort"])
    return None


def _selects(service: Doc, pod: Doc) -> bool:
    selector = service["spec"].get("selector") or {}
    labels = pod["metadata"].get("labels") or {}
    same = pod["metadata"]["namespace"] == service["metadata"]["namespace"]
    return bool(selector) and same and all(labels.get(k) == v for k, v in selector.items())


def service_table(services: Iterable[Doc], ready: Iterable[tuple[Doc, str]], api_server: tuple[str, int]) -> Table:
    """The table for `services` and the `ready` pods (each with its address); `kubernetes.default` is the API
    server, as in every cluster."""
    pods = list(ready)
    table: Table = {}
    for service in services:
        meta, spec = service["metadata"], service["spec"]
        if spec.get("type") == "ExternalName" or not spec.get("selector"):
            continue  # no pods of its own: its endpoints are kept by hand (as the API server's are)
        selected = [(pod, address) for pod, address in pods if _selects(service, pod)]
        ports: dict[str, list[tuple[str, int]]] = {}
        for port in spec.get("ports") or []:
            if (port.get("protocol") or "TCP") != "TCP":
                continue
            targets = [(address, _target(port, pod)) for pod, address in selected]
            ports[str(port["port"])] = sorted((a, t) for a, t in targets if t is not None)
        table[f"{meta['name']}.{meta['namespace']}"] = ports
    table["kubernetes.default"] = {"443": [api_server]}
    return table
