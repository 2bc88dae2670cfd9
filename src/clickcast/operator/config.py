"""The operator's own settings (not a ClickModel's): from `clickcast operator` options or the environment."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from clickcast.api.images import Images
from clickcast.gitops.remote import DEFAULT_SCHEMES, SCHEMES
from clickcast.jobs.layout import JOBS_DIR

_DEFAULT_IMAGES = Images.of()


@dataclass(frozen=True)
class OperatorConfig:
    namespaces: tuple[str, ...] = ()
    """Namespaces to watch; empty: every namespace (cluster-wide)."""
    jobs_dir: str = JOBS_DIR
    """Where the jobs image keeps train.py and score.py (the spark-submit entry files)."""
    workers: int = 8
    """ClickModels reconciled concurrently (one at a time each)."""
    metrics_port: int | None = 8000
    """Prometheus /metrics port; None: off."""
    identity: str = field(default_factory=socket.gethostname)
    """This replica's name in Events (the pod name in a cluster)."""
    git_cache: str = "/tmp/clickcast/git"
    """Where clones of GitOps repositories are kept (an emptyDir in the operator's pod)."""
    jobs_image: str = _DEFAULT_IMAGES.jobs
    """The jobs image of a ClickModel that names none (`spec.training.image`)."""
    serving_image: str = _DEFAULT_IMAGES.serving
    """The serving image of a ClickModel that names none (`spec.serving.image`)."""

    @property
    def images(self) -> Images:
        return Images(jobs=self.jobs_image, serving=self.serving_image)

    error_limit: int = 3
    """Failed reconciliations of one ClickModel in a row before it says so (ReconcileError=True and an Event)."""
    git_schemes: tuple[str, ...] = DEFAULT_SCHEMES
    """GitOps URL schemes the operator pushes to (clickcast.gitops.remote: not http or file unless listed)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorConfig:
        """CLICKCAST_NAMESPACES (comma-separated), CLICKCAST_JOBS_DIR, CLICKCAST_WORKERS, CLICKCAST_METRICS_PORT
        ("off" disables), CLICKCAST_GIT_CACHE, CLICKCAST_JOBS_IMAGE, CLICKCAST_SERVING_IMAGE, CLICKCAST_ERROR_LIMIT,
        POD_NAME."""
        env = os.environ if env is None else env
        port = env.get("CLICKCAST_METRICS_PORT", "8000")
        return cls(
            namespaces=tuple(n for n in env.get("CLICKCAST_NAMESPACES", "").split(",") if n),
            jobs_dir=env.get("CLICKCAST_JOBS_DIR", JOBS_DIR),
            workers=int(env.get("CLICKCAST_WORKERS", "8")),
            metrics_port=None if port == "off" else int(port),
            identity=env.get("POD_NAME") or socket.gethostname(),
            git_cache=env.get("CLICKCAST_GIT_CACHE", "/tmp/clickcast/git"),
            jobs_image=env.get("CLICKCAST_JOBS_IMAGE") or _DEFAULT_IMAGES.jobs,
            serving_image=env.get("CLICKCAST_SERVING_IMAGE") or _DEFAULT_IMAGES.serving,
            error_limit=max(1, int(env.get("CLICKCAST_ERROR_LIMIT", "3"))),
            git_schemes=git_schemes(env.get("CLICKCAST_GIT_SCHEMES", ",".join(DEFAULT_SCHEMES))),
        )

    def to_env(self) -> dict[str, str]:
        """The environment from_env reads back (how `clickcast operator` hands its options to kopf's process)."""
        return {
            "CLICKCAST_NAMESPACES": ",".join(self.namespaces),
            "CLICKCAST_JOBS_DIR": self.jobs_dir,
            "CLICKCAST_WORKERS": str(self.workers),
            "CLICKCAST_METRICS_PORT": "off" if self.metrics_port is None else str(self.metrics_port),
            "CLICKCAST_GIT_CACHE": self.git_cache,
            "CLICKCAST_JOBS_IMAGE": self.jobs_image,
            "CLICKCAST_SERVING_IMAGE": self.serving_image,
            "CLICKCAST_ERROR_LIMIT": str(self.error_limit),
            "CLICKCAST_GIT_SCHEMES": ",".join(self.git_schemes),
        }


def git_schemes(value: str) -> tuple[str, ...]:
    """`https,ssh` -> ('https', 'ssh'); an unknown scheme is a ValueError naming the known ones."""
    schemes = tuple(dict.fromkeys(s.strip().lower() for s in value.split(",") if s.strip()))
    unknown = [s for s in schemes if s not in SCHEMES]
    if unknown:
        raise ValueError(f"unknown GitOps URL scheme(s) {', '.join(unknown)}; known: {', '.join(SCHEMES)}")
    return schemes
