"""Deterministic names: a version id from the time a training is decided, child object names from it."""

from __future__ import annotations

import hashlib
from datetime import datetime

MAX_NAME = 63
"""Job names become label values, Deployment names Service names: both at most 63 characters."""


def version_id(now: datetime) -> str:
    """Sortable by time: v20261127-031500."""
    return f"v{now:%Y%m%d-%H%M%S}"


def child_name(model: str, *parts: str) -> str:
    """`<model>-<parts...>`, shortened with a hash of the whole when longer than 63 characters."""
    name = "-".join([model, *parts])
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9].rstrip('-.')}-{digest}"


def training_run_name(model: str, version: str) -> str:
    return child_name(model, "train", version)


def scoring_run_name(model: str, version: str) -> str:
    return child_name(model, "score", version)


def _attempt(attempt: int) -> tuple[str, ...]:
    # A retry after an error gets a name of its own: the same name would adopt the failed run again.
    return (f"r{attempt}",) if attempt else ()


def canary_run_name(model: str, version: str, look: int, attempt: int = 0) -> str:
    """The evaluation run of a canary's `look`-th analysis (`attempt`: errors before it in a row)."""
    return child_name(model, "canary", version, str(look), *_attempt(attempt))


def quality_run_name(model: str, evaluation: int, attempt: int = 0) -> str:
    """The `evaluation`-th evaluation run of the stable version's quality (`attempt`: errors before it in a row)."""
    return child_name(model, "quality", str(evaluation), *_attempt(attempt))
