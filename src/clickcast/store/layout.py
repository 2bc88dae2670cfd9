"""Where things live in a store: the one definition of its paths, for every writer and reader.

    <store>/models/<model>/<version>/MANIFEST.json       a committed version (see clickcast.store.artifacts)
    <store>/models/<model>/<version>/<file>              its files, on local disks (the attempt was renamed here)
    <store>/models/<model>/.staging/<version>-<attempt>/ one publisher's upload; on object stores the committed
                                                         manifest names its attempt and the files stay here
    <store>/predictions/<model>/date=YYYY-MM-DD/ the default prediction log (clickcast.store.prediction_log)
    <store>/evaluations/<model>/<run>/             one evaluation run's output (metrics.json, joined.parquet)

The operator roots each ClickModel's store at `<spec.store.url>/<namespace>` (namespace_root), so that two
ClickModels of one name in two namespaces that share a store never share a path; `clickcast run` uses the URL as
given.

Pure string functions: no filesystem access.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MODELS = "models"
PREDICTIONS = "predictions"
EVALUATIONS = "evaluations"
STAGING = ".staging"

_VERSION_URI = re.compile(rf"^(?P<store>.+)/{MODELS}/(?P<model>[^/]+)/(?P<version>[^/.][^/]*)/?$")


@dataclass(frozen=True)
class VersionRef:
    """A version's place: the store it lives in, the model and the version id."""

    store_url: str
    model: str
    version: str

    @property
    def uri(self) -> str:
        return version_uri(self.store_url, self.model, self.version)


def namespace_root(store_url: str, namespace: str) -> str:
    """Where the operator keeps a namespace's ClickModels in the store `store_url`."""
    return f"{store_url.rstrip('/')}/{namespace}"


def model_dir(store_url: str, model: str) -> str:
    return f"{store_url.rstrip('/')}/{MODELS}/{model}"


def version_uri(store_url: str, model: str, version: str) -> str:
    return f"{model_dir(store_url, model)}/{version}"


def staging_dir(store_url: str, model: str, version: str, attempt: str) -> str:
    return f"{model_dir(store_url, model)}/{STAGING}/{version}-{attempt}"


def attempt_dir(version_path: str, attempt: str) -> str:
    """The staging prefix of `attempt`, given the path (or URI) of the version it was published as."""
    model_path, _, version = version_path.rstrip("/").rpartition("/")
    return f"{model_path}/{STAGING}/{version}-{attempt}"


def prediction_log_url(store_url: str, model: str) -> str:
    """The default prediction log of a model (a ClickModel's `spec.store.predictionLogUrl` overrides it)."""
    return f"{store_url.rstrip('/')}/{PREDICTIONS}/{model}"


def evaluation_dir(store_url: str, model: str, run: str) -> str:
    """Where evaluation run `run` writes its report."""
    return f"{store_url.rstrip('/')}/{EVALUATIONS}/{model}/{run}"


def parse_version_uri(uri: str) -> VersionRef | None:
    """The store, model and version of a version URI; None if `uri` is not laid out as one."""
    match = _VERSION_URI.match(uri)
    return VersionRef(match["store"], match["model"], match["version"]) if match else None
