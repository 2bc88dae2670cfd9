"""Kubernetes objects of one served model version: pure builders, for the operator.

One Deployment and one Service per (ClickModel, role). The stable Service is
what the ad platform calls: it selects every pod labelled public, the stable
ones always and, in split mode, the canary's too, so the canary answers its
share of replicas. In shadow mode the stable Deployment mirrors to the canary
Service (SHADOW_URL), which answers nobody else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from clickcast.api.images import serving_image
from clickcast.api.roles import Role
from clickcast.api.spec import GatewayRouting, Serving
from clickcast.api.traffic import Traffic
from clickcast.store import credentials

APP = "clickcast-serving"
SCRATCH = "/scratch"
"""BentoML's home and temp files (the root filesystem is read-only)."""
SERVING_UID = 10001
"""The user of serving/Dockerfile."""
MANIFEST_ANNOTATION = "clickcast.io/manifest-sha256"
TRAFFIC_ANNOTATION = "clickcast.io/traffic"
"""On a Deployment: the `Traffic` it was deployed with (the observer reads it back, rather than inferring it)."""
PUBLIC_LABEL = "clickcast.io/public"
"""On a pod: the stable Service sends it traffic."""


def object_name(model: str, role: Role) -> str:
    return f"{model}-{role}"


def selector(model: str, role: Role) -> dict[str, str]:
    return {"app.kubernetes.io/name": APP, "clickcast.io/model": model, "clickcast.io/role": role}


def public_selector(model: str) -> dict[str, str]:
    """What the stable Service selects: the model's public pods, whichever role runs them."""
    return {"app.kubernetes.io/name": APP, "clickcast.io/model": model, PUBLIC_LABEL: "true"}


def deployment(
    *,
    model: str,
    version: str,
    model_uri: str,
    manifest_sha256: str,
    role: Role,
    serving: Serving,
    namespace: str,
    prediction_log_url: str,
    shadow_url: str | None = None,
    owner: Sequence[dict[str, Any]] = (),
    storage_secret: str | None = None,
    replicas: int | None = None,
    traffic: Traffic = Traffic.OWN,
    mirror_token: str | None = None,
) -> dict[str, Any]:
    """The Deployment serving `model_uri` as `role` (stable: `serving.replicas` replicas; canary: one).

    `traffic`: SHARE puts a canary's pods behind the stable Service too (stable pods always are); MIRROR needs
    `shadow_url`, the canary Service that stable copies each request to.

    `mirror_token` (every pod of the model: `mirror_token(uid)`): stable sends it with each mirrored copy and the
    canary logs as shadow only copies that carry it, so no client can make its requests count as shadow evidence.

    `manifest_sha256` pins the exact bytes: the service refuses a version whose manifest differs, so a
    version overwritten or tampered with in the store never serves under the name that was validated.
    """
    labels = {**selector(model, role), "clickcast.io/version": version}
    if (traffic is Traffic.MIRROR) != (shadow_url is not None):
        raise ValueError(f"traffic {traffic} with shadow_url {shadow_url!r}: a mirror needs a URL, and only a mirror")
    pod_labels = {**labels, PUBLIC_LABEL: str(role == Role.STABLE or traffic is Traffic.SHARE).lower()}
    env = {
        "MODEL_URI": model_uri,
        "MODEL_SHA256": manifest_sha256,
        "MODEL_ROLE": role,
        "MODEL_NAME": model,
        "PREDICTION_LOG_URL": prediction_log_url,
        "PREDICTION_LOG_FLUSH_INTERVAL": serving.prediction_log_flush_interval,
        "BENTOML_HOST": "0.0.0.0",  # every interface of the pod: Services, probes, port-forward
        "BENTOML_PORT": str(serving.port),
        "BENTOML_HOME": f"{SCRATCH}/bentoml",
        "HOME": SCRATCH,
        "TMPDIR": SCRATCH,
        **({"SHADOW_URL": shadow_url} if shadow_url else {}),
        **({"MIRROR_TOKEN": mirror_token} if mirror_token else {}),
        **({credentials.ENV: credentials.MOUNT_PATH} if storage_secret else {}),
    }
    resources = {"cpu": serving.resources.cpu, "memory": serving.resources.memory}

    def probe(path: str, period: int) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period, "failureThreshold": 3}

    container = {
        "name": "serving",
        "image": serving_image(serving),
        "ports": [{"name": "http", "containerPort": serving.port}],
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "resources": {"requests": resources, "limits": resources},
        "readinessProbe": probe("/readyz", 5),
        "livenessProbe": probe("/livez", 10),
        "volumeMounts": [
            {"name": "scratch", "mountPath": SCRATCH},
            *([{"name": "storage", "mountPath": credentials.MOUNT_PATH, "readOnly": True}] if storage_secret else []),
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": SERVING_UID,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": object_name(model, role),
            "namespace": namespace,
            "labels": labels,
            "annotations": {MANIFEST_ANNOTATION: manifest_sha256, TRAFFIC_ANNOTATION: str(traffic)},
            "ownerReferences": list(owner),
        },
        "spec": {
            "replicas": replicas if replicas is not None else serving.replicas if role == Role.STABLE else 1,
            # A new version replaces the old pod by pod, never below the ready replicas (zero dropped requests).
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "selector": {"matchLabels": selector(model, role)},
            "template": {
                "metadata": {"labels": pod_labels},
                # Enough for in-flight requests and the final prediction-log flush after SIGTERM.
                "spec": {
                    "terminationGracePeriodSeconds": 60,
                    "automountServiceAccountToken": False,  # the service never talks to the API server
                    "securityContext": {"runAsNonRoot": True, "runAsUser": SERVING_UID, "fsGroup": SERVING_UID},
                    "containers": [container],
                    "volumes": [
                        {"name": "scratch", "emptyDir": {}},
                        *([{"name": "storage", "secret": {"secretName": storage_secret}}] if storage_secret else []),
                    ],
                },
            },
        },
    }


def service(
    *, model: str, role: Role, serving: Serving, namespace: str, owner: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": object_name(model, role),
            "namespace": namespace,
            "labels": selector(model, role),
            "ownerReferences": list(owner),
        },
        "spec": {
            "selector": public_selector(model) if role == Role.STABLE else selector(model, role),
            "ports": [{"name": "http", "port": serving.port, "targetPort": "http"}],
        },
    }


def service_url(*, model: str, role: Role, serving: Serving, namespace: str) -> str:
    """In-cluster URL of a role's Service (what SHADOW_URL points at)."""
    return f"http://{object_name(model, role)}.{namespace}.svc:{serving.port}"


HTTP_ROUTE_API = "gateway.networking.k8s.io/v1"


def http_route(
    *,
    model: str,
    namespace: str,
    serving: Serving,
    gateway: GatewayRouting,
    canary_weight: int,
    owner: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The model's Gateway API HTTPRoute: `canary_weight` percent to the canary Service, the rest to stable.

    The canary's backendRef stays listed at weight 0 outside a canary, so the route's shape never changes.
    """

    def backend(role: Role, weight: int) -> dict[str, Any]:
        return {"name": object_name(model, role), "port": serving.port, "weight": weight}

    parents = [
        {"name": p.name, **({"namespace": p.namespace} if p.namespace else {}),
         **({"sectionName": p.section_name} if p.section_name else {})}
        for p in gateway.parent_refs
    ]  # fmt: skip
    spec: dict[str, Any] = {
        "parentRefs": parents,
        "rules": [{"backendRefs": [backend(Role.STABLE, 100 - canary_weight), backend(Role.CANARY, canary_weight)]}],
    }
    if gateway.hostnames:
        spec["hostnames"] = list(gateway.hostnames)
    return {
        "apiVersion": HTTP_ROUTE_API,
        "kind": "HTTPRoute",
        "metadata": {
            "name": model,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": APP, "clickcast.io/model": model},
            "ownerReferences": list(owner),
        },
        "spec": spec,
    }


def route_weight(route: dict[str, Any] | None, model: str) -> int | None:
    """The canary's weight in the model's HTTPRoute, as a percentage of the weights (None: no route)."""
    if route is None:
        return None
    refs = [ref for rule in (route.get("spec") or {}).get("rules") or [] for ref in rule.get("backendRefs") or []]
    total = sum(int(ref.get("weight", 1)) for ref in refs)
    canary = sum(int(ref.get("weight", 1)) for ref in refs if ref.get("name") == object_name(model, Role.CANARY))
    return round(100 * canary / total) if total else 0


def mirror_token(owner_uid: str) -> str:
    """The shadow mirror's token of a ClickModel: derived from its uid, which no prediction client sees, so the
    operator needs no Secret for it and every reconcile (and restart) gives the same value."""
    return hashlib.sha256(f"clickcast-mirror:{owner_uid}".encode()).hexdigest()[:32]
