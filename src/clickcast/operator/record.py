"""Recording the core's decisions: the status subresource (optimistic concurrency) and Events."""

from __future__ import annotations

import asyncio

from clickcast.api.status import ClickModelStatus
from clickcast.core.plan import Event
from clickcast.operator.kube import Doc, KubeApi


class KubeRecorder:
    """Recorder (clickcast.core.ports) for one ClickModel as it was read at the start of the reconciliation."""

    def __init__(self, kube: KubeApi, obj: Doc, identity: str) -> None:
        self.kube = kube
        self.obj = obj
        self.identity = identity

    async def write_status(self, name: str, status: ClickModelStatus) -> None:
        # Raises Conflict if the object changed since it was read: the decision is then retaken on fresh state,
        # so two replicas (or a replica and a stale timer) never both act on one status.
        updated = await asyncio.to_thread(self.kube.replace_status, self.obj, status.to_wire())
        self.obj = {**self.obj, "metadata": {**self.obj["metadata"], **updated["metadata"]}}

    async def emit(self, name: str, event: Event) -> None:
        await asyncio.to_thread(self.kube.event, self.obj, event.type, event.reason, event.message, self.identity)
