"""Versioned model artifacts: published atomically, never overwritten, verified on load.

A version at `clickcast.store.layout.version_uri(S, model, version)` holds:

    MANIFEST.json   {model, version, created_at, code_version, files: {name: {sha256, size}}}
    <name>          each file listed in the manifest

A version exists if and only if its MANIFEST.json exists. On a local
filesystem the staged directory is renamed into place in one rename(2), which
fails if the version already exists, so two concurrent publishers of the same
version cannot both win. On object stores (no rename) the files are copied
first and the manifest is written last with an exclusive create where the
filesystem supports it.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem
from pydantic import BaseModel, Field, ValidationError

from clickcast import __version__
from clickcast.store import layout

MANIFEST_NAME = "MANIFEST.json"
_VERSION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")


class StoreError(Exception):
    """Base of model store errors; the message says what and where."""


class VersionExistsError(StoreError):
    """A version is immutable: publishing it twice is refused."""


class VersionNotFoundError(StoreError):
    """No committed version at that URI."""


class ArtifactCorruptError(StoreError):
    """A file is missing or its content does not match the manifest."""


class FileEntry(BaseModel):
    sha256: str
    size: int


class ArtifactManifest(BaseModel):
    """What a version contains, with a checksum per file."""

    model: str
    version: str
    created_at: datetime
    code_version: str
    files: dict[str, FileEntry] = Field(default_factory=dict)


@dataclass(frozen=True)
class PublishedVersion:
    """A committed version: where it is and the sha256 of its manifest (what pins its exact bytes)."""

    uri: str
    manifest_sha256: str


@dataclass(frozen=True)
class VerifiedVersion:
    """A loaded version whose every file matched its checksum."""

    uri: str
    manifest: ArtifactManifest
    manifest_sha256: str
    files: Mapping[str, bytes]

    def json(self, name: str) -> Any:
        return json.loads(self.files[name])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_name(kind: str, value: str) -> None:
    if not value or not set(value) <= _VERSION_CHARS or value.startswith((".", "-")):
        raise ValueError(f"invalid {kind} {value!r}: use lower-case letters, digits, '-' and '.'")


class ModelStore:
    """A model store rooted at an fsspec URL (file:///..., s3://..., memory://...)."""

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        self.url = url.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **dict(storage_options or {}))
        self.root = self.root.rstrip("/")

    def version_uri(self, model: str, version: str) -> str:
        return layout.version_uri(self.url, model, version)

    def _path(self, model: str, version: str) -> str:
        return layout.version_uri(self.root, model, version)

    def list_versions(self, model: str) -> list[str]:
        """Committed versions of a model, oldest name first."""
        base = layout.model_dir(self.root, model)
        if not self.fs.exists(base):
            return []
        names = [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(base, detail=False)]
        return sorted(n for n in names if not n.startswith(".") and self.fs.exists(f"{base}/{n}/{MANIFEST_NAME}"))

    def publish(self, model: str, version: str, files: Mapping[str, bytes]) -> PublishedVersion:
        """Publish `files` as an immutable version; return its URI and manifest checksum.

        Raises VersionExistsError if the version was already published (also when
        another publisher commits it first while this one is staging).
        """
        _check_name("model name", model)
        _check_name("version", version)
        if MANIFEST_NAME in files:
            raise ValueError(f"{MANIFEST_NAME} is written by the store")
        final = self._path(model, version)
        if self.fs.exists(final):
            raise VersionExistsError(f"{self.version_uri(model, version)} already exists; versions are immutable")
        manifest = ArtifactManifest(
            model=model,
            version=version,
            created_at=datetime.now(UTC),
            code_version=__version__,
            files={name: FileEntry(sha256=_sha256(data), size=len(data)) for name, data in files.items()},
        )
        staging = layout.staging_dir(self.root, model, version, uuid.uuid4().hex)
        self.fs.makedirs(staging, exist_ok=True)
        try:
            for name, data in files.items():
                self.fs.pipe_file(f"{staging}/{name}", data)
            manifest_bytes = manifest.model_dump_json(indent=2).encode()
            published = PublishedVersion(self.version_uri(model, version), _sha256(manifest_bytes))
            self.fs.pipe_file(f"{staging}/{MANIFEST_NAME}", manifest_bytes)
            self._commit(staging, final, files, manifest_bytes, self.version_uri(model, version))
        finally:
            if self.fs.exists(staging):
                self.fs.rm(staging, recursive=True)
        return published

    def _commit(self, staging: str, final: str, files: Mapping[str, bytes], manifest: bytes, uri: str) -> None:
        if isinstance(self.fs, LocalFileSystem):
            try:
                os.rename(staging, final)  # atomic; fails if `final` exists and is not empty
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    raise VersionExistsError(f"{uri} already exists; versions are immutable") from exc
                raise
            return
        for name, data in files.items():
            self.fs.pipe_file(f"{final}/{name}", data)
        try:
            with self.fs.open(f"{final}/{MANIFEST_NAME}", "xb") as handle:
                handle.write(manifest)
        except (FileExistsError, ValueError, NotImplementedError) as exc:
            if isinstance(exc, FileExistsError) or self.fs.exists(f"{final}/{MANIFEST_NAME}"):
                raise VersionExistsError(f"{uri} already exists; versions are immutable") from exc
            self.fs.pipe_file(f"{final}/{MANIFEST_NAME}", manifest)  # no exclusive create on this filesystem

    def load(self, uri: str, expected_manifest_sha256: str | None = None) -> VerifiedVersion:
        """Read a version and verify every file against the manifest (and the manifest itself, if given)."""
        if not uri.startswith(self.url):
            return load_version(uri, expected_manifest_sha256)
        return _load(self.fs, f"{self.root}{uri[len(self.url) :]}".rstrip("/"), uri, expected_manifest_sha256)


def load_version(
    uri: str,
    expected_manifest_sha256: str | None = None,
    *,
    only: Collection[str] | None = None,
    **storage_options: Any,
) -> VerifiedVersion:
    """Load and verify a version from its URI alone (what the serving image does with MODEL_URI).

    `only`: read and verify just these files of the manifest (e.g. the operator reading metrics.json).
    """
    fs, path = fsspec.core.url_to_fs(uri.rstrip("/"), **storage_options)
    return _load(fs, path.rstrip("/"), uri, expected_manifest_sha256, only)


def _load(
    fs: Any, path: str, uri: str, expected_manifest_sha256: str | None, only: Collection[str] | None = None
) -> VerifiedVersion:
    try:
        manifest_bytes = fs.cat_file(f"{path}/{MANIFEST_NAME}")
    except FileNotFoundError as exc:
        raise VersionNotFoundError(f"no model version at {uri} ({MANIFEST_NAME} missing)") from exc
    manifest_sha = _sha256(manifest_bytes)
    if expected_manifest_sha256 is not None and manifest_sha != expected_manifest_sha256:
        raise ArtifactCorruptError(
            f"{uri}/{MANIFEST_NAME}: sha256 {manifest_sha} does not match the expected {expected_manifest_sha256}"
        )
    try:
        manifest = ArtifactManifest.model_validate_json(manifest_bytes)
    except ValidationError as exc:
        raise ArtifactCorruptError(f"{uri}/{MANIFEST_NAME}: unreadable manifest ({exc.error_count()} errors)") from exc
    files: dict[str, bytes] = {}
    for name, entry in manifest.files.items():
        if only is not None and name not in only:
            continue
        try:
            data = fs.cat_file(f"{path}/{name}")
        except FileNotFoundError as exc:
            raise ArtifactCorruptError(f"{uri}/{name}: listed in the manifest but missing") from exc
        digest = _sha256(data)
        if len(data) != entry.size or digest != entry.sha256:
            raise ArtifactCorruptError(
                f"{uri}/{name}: checksum mismatch (sha256 {digest}, {len(data)} bytes; "
                f"manifest says {entry.sha256}, {entry.size} bytes)"
            )
        files[name] = data
    return VerifiedVersion(uri=uri, manifest=manifest, manifest_sha256=manifest_sha, files=files)
