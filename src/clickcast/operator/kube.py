"""The operator's one door to the Kubernetes API (with handlers.py, the only modules importing kubernetes).

A thin, synchronous layer over the client's dynamic API, on plain dicts: get, create (an existing object
is reported, not an error), server-side apply, delete, the status subresource with optimistic
concurrency, and Events. Callers run it in threads (`asyncio.to_thread`).
"""

from __future__ import annotations

import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from clickcast.api.resource import API_VERSION, KIND, PLURAL

FIELD_MANAGER = "clickcast-operator"
Doc = dict[str, Any]


class Conflict(Exception):  # noqa: N818 - the HTTP status it stands for
    """The object changed since it was read (409 on a write with a resourceVersion)."""


class MissingResource(Exception):  # noqa: N818
    """The API server does not serve this kind (e.g. the Spark Operator's CRD is not installed)."""


def forbidden(exc: BaseException) -> bool:
    """The API server refused the operator's role (HTTP 403)."""
    return isinstance(exc, ApiException) and exc.status == 403


class KubeApi:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self._dynamic: DynamicClient | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls) -> KubeApi:
        """In a pod: its ServiceAccount; elsewhere: the current kubeconfig context."""
        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
            return cls(client.ApiClient())
        except config.ConfigException:
            return cls(config.new_client_from_config())  # type: ignore[no-untyped-call]

    @property
    def dynamic(self) -> DynamicClient:
        with self._lock:  # discovery once, shared by the worker threads
            if self._dynamic is None:
                # A private discovery cache: the library's default file is shared by every process talking to
                # the same host:port, so a stale one (another cluster on a reused port, a CRD since removed)
                # would make kinds look served that are not.
                cache = Path(tempfile.mkdtemp(prefix="clickcast-discovery-")) / "discovery.json"
                self._dynamic = DynamicClient(self.api, cache_file=str(cache))  # type: ignore[no-untyped-call]
            return self._dynamic

    def _resource(self, api_version: str, kind: str) -> Any:
        try:
            return self.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError as exc:
            raise MissingResource(f"the API server does not serve {kind} ({api_version})") from exc

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> Doc | None:
        try:
            found = self._resource(api_version, kind).get(name=name, namespace=namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return cast(Doc, found.to_dict())

    def get_clickmodel(self, namespace: str, name: str) -> Doc | None:
        return self.get(API_VERSION, KIND, namespace, name)

    def create(self, doc: Doc) -> bool:
        """Create `doc`; False if an object of that name already exists (it is left alone)."""
        resource = self._resource(doc["apiVersion"], doc["kind"])
        try:
            resource.create(body=doc, namespace=doc["metadata"]["namespace"])
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True

    def apply(self, doc: Doc, resource_version: str | None = None) -> None:
        """Server-side apply: the fields clickcast manages become `doc`'s, others are left alone.

        With `resource_version`, only if the object is still at that version (Conflict otherwise): what the
        caller checked before (its owner, say) is what gets changed.
        """
        resource = self._resource(doc["apiVersion"], doc["kind"])
        meta = doc["metadata"]
        if resource_version is not None:
            doc = {**doc, "metadata": {**meta, "resourceVersion": resource_version}}
        try:
            resource.server_side_apply(
                body=doc, name=meta["name"], namespace=meta["namespace"],
                field_manager=FIELD_MANAGER, force_conflicts=True,
            )  # fmt: skip
        except ApiException as exc:
            if exc.status == 409:  # with force, only the precondition can conflict
                raise Conflict(f"{doc['kind']} {meta['namespace']}/{meta['name']} changed since it was read") from exc
            raise

    def delete(self, api_version: str, kind: str, namespace: str, name: str, preconditions: Doc | None = None) -> bool:
        """Delete with background propagation (its pods go too); False if it was not there.

        `preconditions` ({"uid": ..., "resourceVersion": ...}): only the object as it was read (Conflict otherwise).
        """
        body: Doc = {"propagationPolicy": "Background"}
        if preconditions:
            body["preconditions"] = preconditions
        try:
            self._resource(api_version, kind).delete(name=name, namespace=namespace, body=body)
        except ApiException as exc:
            if exc.status == 404:
                return False
            if exc.status == 409:
                raise Conflict(f"{kind} {namespace}/{name} changed since it was read") from exc
            raise
        return True

    def list(self, api_version: str, kind: str, namespace: str, selector: str) -> list[Doc]:
        found = self._resource(api_version, kind).get(namespace=namespace, label_selector=selector)
        return [cast(Doc, item.to_dict()) for item in found.items]

    def replace_status(self, obj: Doc, status: Doc) -> Doc:
        """Write the ClickModel's status, only if the object is still at the version `obj` was read at."""
        meta = obj["metadata"]
        body = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {
            "name": meta["name"], "namespace": meta["namespace"], "resourceVersion": meta["resourceVersion"]},
            "status": status}  # fmt: skip
        group, version = API_VERSION.split("/")
        try:
            out = client.CustomObjectsApi(self.api).replace_namespaced_custom_object_status(
                group, version, meta["namespace"], PLURAL, meta["name"], body
            )
        except ApiException as exc:
            if exc.status == 409:
                raise Conflict(f"{meta['namespace']}/{meta['name']} changed since it was read") from exc
            raise
        return cast(Doc, out)

    def event(self, obj: Doc, type_: str, reason: str, message: str, instance: str) -> None:
        """A core/v1 Event on `obj` (what `kubectl describe` shows)."""
        meta = obj["metadata"]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": obj["apiVersion"],
                "kind": obj["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": FIELD_MANAGER},
            "reportingComponent": FIELD_MANAGER,
            "reportingInstance": instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        client.CoreV1Api(self.api).create_namespaced_event(meta["namespace"], cast(Any, body))
