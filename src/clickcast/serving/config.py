"""Settings of the prediction service, read from the environment (what the Deployment sets)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from clickcast.api.duration import parse_duration
from clickcast.api.roles import SERVED_ROLES, Role
from clickcast.store import layout

_SHA256 = re.compile(r"[0-9a-f]{64}")
MiB = 1024 * 1024
MAX_REQUEST_BYTES = 4 * MiB
"""A prediction request's body limit: a full batch of 10,000 typical offers is about 1.3 MB."""
SHADOW_QUEUE_BYTES = 16 * MiB
"""The bodies the mirror may hold at once (queued or being sent), per worker."""


@dataclass(frozen=True)
class Settings:
    model_uri: str
    manifest_sha256: str | None = None
    """The manifest checksum the operator pinned; a version whose manifest differs is refused."""
    role: Role = Role.STABLE
    model_name: str | None = None
    prediction_log_url: str | None = None
    flush_interval: float = 5.0
    shadow_url: str | None = None
    shadow_queue_size: int = 1000
    shadow_queue_bytes: int = SHADOW_QUEUE_BYTES
    max_request_bytes: int = MAX_REQUEST_BYTES
    model_threads: int = 1
    mirror_token: str | None = field(default=None, repr=False)
    """The release's shadow token (MIRROR_TOKEN): stable sends it with each copy, the candidate honours only it."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read MODEL_URI, MODEL_SHA256, MODEL_ROLE, MODEL_NAME, PREDICTION_LOG_URL, PREDICTION_LOG_FLUSH_INTERVAL,
        SHADOW_URL, SHADOW_QUEUE_SIZE, SHADOW_QUEUE_BYTES, MAX_REQUEST_BYTES, MODEL_THREADS and MIRROR_TOKEN;
        raise ValueError naming the variable if one is invalid."""
        env = os.environ if env is None else env
        role = env.get("MODEL_ROLE") or Role.STABLE
        if role not in SERVED_ROLES:
            raise ValueError(f"MODEL_ROLE={role!r}: must be one of {', '.join(SERVED_ROLES)}")
        interval = env.get("PREDICTION_LOG_FLUSH_INTERVAL", "5s")
        try:
            flush = parse_duration(interval).total_seconds() if interval[-1:].isalpha() else float(interval)
        except ValueError as exc:
            raise ValueError(f"PREDICTION_LOG_FLUSH_INTERVAL={interval!r}: {exc}") from exc
        sha = env.get("MODEL_SHA256") or None
        if sha is not None and not _SHA256.fullmatch(sha):
            raise ValueError(f"MODEL_SHA256={sha!r}: must be 64 lower-case hex digits (a sha256)")
        queue, threads = _positive(env, "SHADOW_QUEUE_SIZE", "1000"), _positive(env, "MODEL_THREADS", "1")
        queue_bytes = _positive(env, "SHADOW_QUEUE_BYTES", str(SHADOW_QUEUE_BYTES))
        request_bytes = _positive(env, "MAX_REQUEST_BYTES", str(MAX_REQUEST_BYTES))
        return cls(
            model_uri=env.get("MODEL_URI", ""),
            manifest_sha256=sha,
            role=Role(role),
            model_name=env.get("MODEL_NAME") or None,
            prediction_log_url=env.get("PREDICTION_LOG_URL") or None,
            flush_interval=flush if flush > 0 else 5.0,
            shadow_url=env.get("SHADOW_URL") or None,
            shadow_queue_size=queue,
            shadow_queue_bytes=queue_bytes,
            max_request_bytes=request_bytes,
            model_threads=threads,
            mirror_token=env.get("MIRROR_TOKEN") or None,
        )

    def log_url(self, model: str) -> str | None:
        """Where predictions go: PREDICTION_LOG_URL ("off" disables), else `<store>/predictions/<model>`."""
        if self.prediction_log_url is not None:
            return None if self.prediction_log_url == "off" else self.prediction_log_url
        ref = layout.parse_version_uri(self.model_uri)
        return layout.prediction_log_url(ref.store_url, model) if ref else None


def _positive(env: Mapping[str, str], name: str, default: str) -> int:
    value = env.get(name, default)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name}={value!r}: must be a positive integer")
    return int(value)
