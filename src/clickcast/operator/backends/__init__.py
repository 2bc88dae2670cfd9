"""Training backends, registered in one place: `spec.training.backend` -> what builds, reads and watches its runs.

Adding one: a module implementing `TrainingBackend` (base.py), an entry in `BACKENDS`, its RBAC rules in
manifests/rbac/ (a unit test holds them to `rules`). An unregistered name raises `UnknownBackend`: there is no
silent fallback to another backend.
"""

from __future__ import annotations

from clickcast.api import spec as api
from clickcast.operator.backends.base import TrainingBackend, Watched
from clickcast.operator.backends.job import JobBackend
from clickcast.operator.backends.spark_application import SparkApplicationBackend

JOB = JobBackend()
"""Also the backend of every scoring and evaluation run."""

BACKENDS: dict[str, TrainingBackend] = {
    api.TrainingBackend.JOB: JOB,
    api.TrainingBackend.SPARK_APPLICATION: SparkApplicationBackend(),
}


class UnknownBackend(LookupError):  # noqa: N818  (the name says what happened)
    """A training backend no module implements."""


def backend(name: str) -> TrainingBackend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise UnknownBackend(f"no training backend {name!r}; known: {', '.join(BACKENDS)}") from None


def watched() -> list[Watched]:
    """Every kind a backend's runs are made of, once each."""
    return list(dict.fromkeys(b.watched for b in BACKENDS.values()))


__all__ = ["BACKENDS", "JOB", "TrainingBackend", "UnknownBackend", "Watched", "backend", "watched"]
