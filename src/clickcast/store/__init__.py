"""The model store: immutable, checksummed model versions on any fsspec filesystem."""

from clickcast.store.artifacts import (
    MANIFEST_NAME,
    ArtifactCorruptError,
    ArtifactManifest,
    ModelStore,
    PublishedVersion,
    StoreError,
    VerifiedVersion,
    VersionExistsError,
    VersionNotFoundError,
    load_version,
)

__all__ = [
    "MANIFEST_NAME",
    "ArtifactCorruptError",
    "ArtifactManifest",
    "ModelStore",
    "PublishedVersion",
    "StoreError",
    "VerifiedVersion",
    "VersionExistsError",
    "VersionNotFoundError",
    "load_version",
]
