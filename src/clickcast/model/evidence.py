"""Reading a published version's evidence without its model: what the operator needs to gate a candidate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clickcast.analysis.evidence import TrainingEvidence
from clickcast.model.artifact import METRICS_FILE
from clickcast.store import layout
from clickcast.store.artifacts import VersionNotFoundError, load_version


@dataclass(frozen=True)
class PublishedEvidence:
    uri: str
    manifest_sha256: str
    evidence: TrainingEvidence


def read_evidence(store_url: str, model: str, version: str, **storage_options: Any) -> PublishedEvidence | None:
    """The version's manifest checksum and verified metrics.json; None if the version is not published (yet).

    Any other problem (unreadable store, corrupt file) raises: it is not the same as "not there".
    """
    uri = layout.version_uri(store_url, model, version)
    try:
        loaded = load_version(uri, only=(METRICS_FILE,), **storage_options)
    except VersionNotFoundError:
        return None
    if METRICS_FILE not in loaded.files:
        raise ValueError(f"{uri}: not a model version (no {METRICS_FILE})")
    evidence = TrainingEvidence.model_validate_json(loaded.files[METRICS_FILE])
    return PublishedEvidence(uri, loaded.manifest_sha256, evidence)
