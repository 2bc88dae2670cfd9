"""The kopf handlers: the only module that registers any. Each one only wakes the Reconciler.

kopf watches ClickModels and the Deployments and training runs (each backend's kind) clickcast created (by their
`clickcast.io/model` label) and calls these handlers on every event; the Reconciler decides. Only
event handlers are used: they need no finalizer and store nothing on the objects, so deleting a
ClickModel is never blocked and its children go with it by owner references.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Mapping
from typing import Any

import kopf
from prometheus_client import start_http_server

from clickcast.api.resource import GROUP, PLURAL, VERSION
from clickcast.operator import backends
from clickcast.operator.config import OperatorConfig
from clickcast.operator.kube import KubeApi
from clickcast.operator.reconcile import Reconciler

OWNED = {"clickcast.io/model": kopf.PRESENT}


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    config: OperatorConfig = memo.get("config") or OperatorConfig.from_env()
    settings.posting.enabled = False  # clickcast posts one Event per lifecycle transition itself
    # Every watch event runs a handler that only wakes the queue: its "succeeded" line is noise.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    if config.namespaces and not any(c in "".join(config.namespaces) for c in "*?[!"):
        # Exact namespaces (a namespaced install): no cluster-wide scans of CRDs and Namespaces, which its
        # Role does not allow; the CRD must exist when the operator starts.
        settings.scanning.disabled = True
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60
    # The Kubernetes client is synchronous: give its calls enough threads for every worker.
    workers = concurrent.futures.ThreadPoolExecutor(max_workers=max(8, 2 * config.workers), thread_name_prefix="k8s")
    asyncio.get_running_loop().set_default_executor(workers)
    if config.metrics_port is not None:
        memo["metrics_server"] = start_http_server(config.metrics_port)
    reconciler = Reconciler(KubeApi.from_environment(), config)
    reconciler.start()
    memo["reconciler"] = reconciler
    scope = ", ".join(config.namespaces) or "all namespaces"
    logger.info(f"clickcast operator {config.identity} watching {scope} with {config.workers} workers")


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    reconciler: Reconciler | None = memo.get("reconciler")
    if reconciler is not None:
        await reconciler.stop()
    server = memo.get("metrics_server")
    if server is not None:
        server[0].shutdown()


@kopf.on.event(GROUP, VERSION, PLURAL)
async def clickmodel_event(*, type: str, namespace: str | None, name: str, memo: Any, **_: Any) -> None:
    reconciler: Reconciler = memo["reconciler"]
    key = (namespace or "", name)
    if type == "DELETED":
        reconciler.forget(key)
    else:
        reconciler.enqueue(key)


async def child_event(*, namespace: str | None, labels: Mapping[str, str], memo: Any, **_: Any) -> None:
    memo["reconciler"].enqueue((namespace or "", labels["clickcast.io/model"]))


# The serving Deployments and every kind a training backend makes (the registry names them: no list to keep here).
for _kind in (backends.Watched("apps", "v1", "deployments"), *backends.watched()):
    kopf.on.event(_kind.group, _kind.version, _kind.plural, labels=OWNED)(child_event)


@kopf.on.probe(id="reconciler")
def reconciler_alive(memo: kopf.Memo, **_: Any) -> bool:
    """Part of the liveness endpoint: the workers are running."""
    reconciler: Reconciler | None = memo.get("reconciler")
    if reconciler is None or not reconciler.alive:
        raise kopf.PermanentError("reconciler workers are not running")
    return True
