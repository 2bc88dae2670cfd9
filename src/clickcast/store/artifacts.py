"""Versioned model artifacts: published atomically, never overwritten, verified on load.

A version at `clickcast.store.layout.version_uri(S, model, version)` is its
MANIFEST.json: {model, version, created_at, code_version, attempt,
files: {name: {sha256, size}}}. A version exists if and only if its manifest
exists, and the manifest is only ever written whole, once, by one conditional
step:

- Every publish is an attempt with its own staging prefix
  (`layout.staging_dir`); files never go straight into the version.
- Local disks: the attempt's files and manifest are fsynced, then the staging
  directory is renamed onto the version in one rename(2), which fails if the
  version exists. The files sit beside the manifest (`attempt` is null).
- Object stores (S3: no rename): the files stay under the attempt's prefix and
  the manifest, naming the attempt, is put with create-if-absent
  (`If-None-Match: *`). Readers resolve the files through it.

So of two publishers exactly one commits and the other's files are never
read, and a publisher that dies midway leaves no version (only staging
garbage), so the version can be published again. Filesystems without an
atomic create-if-absent are refused for publishing rather than written
non-atomically. `collect_garbage` removes such leftovers once they are older
than any publish could take (every training run calls it after publishing).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import threading
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem
from pydantic import BaseModel, Field, ValidationError

from clickcast import __version__
from clickcast.store import layout

GARBAGE_AGE = timedelta(days=2)
"""Staging older than this is a dead publisher's (training runs time out long before: spec.training.timeout)."""

MANIFEST_NAME = "MANIFEST.json"
_VERSION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")
# Filesystems whose pipe_file(mode="create") is one atomic conditional put.
_CONDITIONAL_PUT = frozenset({"s3", "s3a"})
_MEMORY_COMMIT = threading.Lock()  # memory:// is in-process: a lock makes its check-then-write atomic


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
    attempt: str | None = None
    """The publishing attempt whose staging prefix holds the files; None: they sit beside the manifest."""
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
        self.fs.invalidate_cache(base)  # object stores cache listings; another publisher may have committed
        if not self.fs.exists(base):
            return []
        names = [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(base, detail=False)]
        return sorted(n for n in names if not n.startswith(".") and self._committed(f"{base}/{n}"))

    def _committed(self, path: str) -> bool:
        self.fs.invalidate_cache(path)
        return bool(self.fs.exists(f"{path}/{MANIFEST_NAME}"))

    def publish(self, model: str, version: str, files: Mapping[str, bytes]) -> PublishedVersion:
        """Publish `files` as an immutable version; return its URI and manifest checksum.

        Raises VersionExistsError if the version was already published (also when
        another publisher commits it first while this one is staging).
        """
        _check_name("model name", model)
        _check_name("version", version)
        if MANIFEST_NAME in files:
            raise ValueError(f"{MANIFEST_NAME} is written by the store")
        uri = self.version_uri(model, version)
        local = isinstance(self.fs, LocalFileSystem)
        if not local and not isinstance(self.fs, MemoryFileSystem) and not _conditional_put(self.fs):
            raise StoreError(
                f"cannot publish to {self.url}: {_protocols(self.fs)} has no atomic create-if-absent, "
                "so two publishers could overwrite each other (use file:// or s3://)"
            )
        final = self._path(model, version)
        if self._committed(final):
            raise VersionExistsError(f"{uri} already exists; versions are immutable")
        attempt = uuid.uuid4().hex
        manifest = ArtifactManifest(
            model=model,
            version=version,
            created_at=datetime.now(UTC),
            code_version=__version__,
            attempt=None if local else attempt,
            files={name: FileEntry(sha256=_sha256(data), size=len(data)) for name, data in files.items()},
        )
        manifest_bytes = manifest.model_dump_json(indent=2).encode()
        staging = layout.staging_dir(self.root, model, version, attempt)
        if local:
            _publish_local(staging, final, files, manifest_bytes, uri)
        else:
            self._publish_remote(staging, final, files, manifest_bytes, uri)
        return PublishedVersion(uri, _sha256(manifest_bytes))

    def _publish_remote(self, staging: str, final: str, files: Mapping[str, bytes], manifest: bytes, uri: str) -> None:
        """Upload under the attempt's prefix, then commit by putting the manifest if absent."""
        committed = False
        try:
            for name, data in files.items():
                self.fs.pipe_file(f"{staging}/{name}", data)
            target = f"{final}/{MANIFEST_NAME}"
            try:
                if isinstance(self.fs, MemoryFileSystem):
                    with _MEMORY_COMMIT:
                        self.fs.pipe_file(target, manifest, mode="create")
                else:
                    self.fs.pipe_file(target, manifest, mode="create")
            except OSError as exc:  # FileExistsError, or a store that reports 412 without saying which condition
                self.fs.invalidate_cache(final)
                try:
                    current = self.fs.cat_file(target)
                except FileNotFoundError:
                    raise exc from None
                if current != manifest:  # identical bytes: our own put, retried after a lost response
                    raise VersionExistsError(f"{uri} already exists; versions are immutable") from exc
            committed = True
        finally:
            if not committed:  # the files of an attempt that did not commit are never read: remove them
                with contextlib.suppress(OSError):  # best effort; an orphaned attempt is only garbage
                    self.fs.rm(staging, recursive=True)

    def collect_garbage(
        self, model: str, older_than: timedelta = GARBAGE_AGE, now: datetime | None = None
    ) -> list[str]:
        """Remove staging prefixes no committed version names whose newest file is older than `older_than`.

        They are what publishers that died midway left; a younger one may belong to a publish in progress,
        and one whose age cannot be read is kept. Returns the removed prefixes.
        """
        staging_root = f"{layout.model_dir(self.root, model)}/{layout.STAGING}"
        self.fs.invalidate_cache(staging_root)
        if not self.fs.exists(staging_root):
            return []
        named = set()
        for version in self.list_versions(model):
            manifest = json.loads(self.fs.cat_file(f"{self._path(model, version)}/{MANIFEST_NAME}"))
            if manifest.get("attempt"):
                named.add(f"{version}-{manifest['attempt']}")
        cutoff = (now or datetime.now(UTC)) - older_than
        removed = []
        for prefix in self.fs.ls(staging_root, detail=False):
            if prefix.rstrip("/").rsplit("/", 1)[-1] in named:
                continue
            ages = [_modified(info) for info in self.fs.find(prefix, detail=True, withdirs=False).values()]
            if not ages or any(a is None or a > cutoff for a in ages):
                continue
            with contextlib.suppress(OSError):
                self.fs.rm(prefix, recursive=True)
                removed.append(self.fs.unstrip_protocol(prefix))
        return removed

    def load(self, uri: str, manifest_sha256: str | None = None) -> VerifiedVersion:
        """Read a version and verify every file against the manifest (and the manifest itself, if given)."""
        if not uri.startswith(self.url):
            return load_version(uri, manifest_sha256)
        return _load(self.fs, f"{self.root}{uri[len(self.url) :]}".rstrip("/"), uri, manifest_sha256)


def load_version(
    uri: str,
    manifest_sha256: str | None = None,
    *,
    only: Collection[str] | None = None,
    **storage_options: Any,
) -> VerifiedVersion:
    """Load and verify a version from its URI alone (what the serving image does with MODEL_URI).

    `only`: read and verify just these files of the manifest (e.g. the operator reading metrics.json).
    """
    fs, path = fsspec.core.url_to_fs(uri.rstrip("/"), **storage_options)
    return _load(fs, path.rstrip("/"), uri, manifest_sha256, only)


def _load(
    fs: Any, path: str, uri: str, manifest_sha256: str | None, only: Collection[str] | None = None
) -> VerifiedVersion:
    try:
        manifest_bytes = fs.cat_file(f"{path}/{MANIFEST_NAME}")
    except FileNotFoundError as exc:
        raise VersionNotFoundError(f"no model version at {uri} ({MANIFEST_NAME} missing)") from exc
    found = _sha256(manifest_bytes)
    if manifest_sha256 is not None and found != manifest_sha256:
        raise ArtifactCorruptError(
            f"{uri}/{MANIFEST_NAME}: sha256 {found} does not match the expected {manifest_sha256}"
        )
    try:
        manifest = ArtifactManifest.model_validate_json(manifest_bytes)
    except ValidationError as exc:
        raise ArtifactCorruptError(f"{uri}/{MANIFEST_NAME}: unreadable manifest ({exc.error_count()} errors)") from exc
    files_dir = path if manifest.attempt is None else layout.attempt_dir(path, manifest.attempt)
    files: dict[str, bytes] = {}
    for name, entry in manifest.files.items():
        if only is not None and name not in only:
            continue
        try:
            data = fs.cat_file(f"{files_dir}/{name}")
        except FileNotFoundError as exc:
            raise ArtifactCorruptError(f"{uri}/{name}: listed in the manifest but missing") from exc
        digest = _sha256(data)
        if len(data) != entry.size or digest != entry.sha256:
            raise ArtifactCorruptError(
                f"{uri}/{name}: checksum mismatch (sha256 {digest}, {len(data)} bytes; "
                f"manifest says {entry.sha256}, {entry.size} bytes)"
            )
        files[name] = data
    return VerifiedVersion(uri=uri, manifest=manifest, manifest_sha256=found, files=files)


def _modified(info: Mapping[str, Any]) -> datetime | None:
    """When a file was last written, from what the filesystem reports (local mtime, S3 LastModified)."""
    value = info.get("LastModified", info.get("mtime", info.get("created")))
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return None


def _conditional_put(fs: Any) -> bool:
    return bool(set(_protocols(fs)) & _CONDITIONAL_PUT)


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return tuple(protocol) if isinstance(protocol, (tuple, list)) else (str(protocol),)


def _publish_local(staging: str, final: str, files: Mapping[str, bytes], manifest: bytes, uri: str) -> None:
    """Write the attempt durably, then rename it onto the version: the rename is the commit."""
    os.makedirs(staging)
    try:
        for name, data in {**files, MANIFEST_NAME: manifest}.items():
            _write_durably(os.path.join(staging, name), data)
        _fsync_dir(staging)  # the entries must be durable before the rename makes them visible
        try:
            os.rename(staging, final)  # atomic; fails if `final` exists and is not empty
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise VersionExistsError(f"{uri} already exists; versions are immutable") from exc
            raise
        _fsync_dir(os.path.dirname(final))
    finally:
        if os.path.isdir(staging):
            for name in os.listdir(staging):
                os.unlink(os.path.join(staging, name))
            os.rmdir(staging)


def _write_durably(path: str, data: bytes) -> None:
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
