"""Model store: atomic, immutable, verified publishing on real files."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from clickcast.store import (
    ArtifactCorruptError,
    ModelStore,
    StoreError,
    VersionExistsError,
    VersionNotFoundError,
    layout,
)
from clickcast.store.artifacts import load_version

pytestmark = pytest.mark.unit
FILES = {"model.json": b'{"trees": []}', "features.json": b"{}", "metrics.json": b'{"mae": 1.0}'}


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(f"file://{tmp_path}/store")


def test_publish_then_load_verifies_every_file(store: ModelStore) -> None:
    published = store.publish("offers", "v1", FILES)
    loaded = load_version(published.uri)
    assert loaded.manifest_sha256 == published.manifest_sha256
    assert dict(loaded.files) == FILES
    assert loaded.manifest.files["model.json"].size == len(FILES["model.json"])
    assert store.list_versions("offers") == ["v1"]
    assert store.load(published.uri, manifest_sha256=loaded.manifest_sha256).files == loaded.files


def test_a_version_is_never_overwritten(store: ModelStore) -> None:
    uri = store.publish("offers", "v1", FILES).uri
    with pytest.raises(VersionExistsError, match="immutable"):
        store.publish("offers", "v1", {"model.json": b"other"})
    assert load_version(uri).files["model.json"] == FILES["model.json"]


def test_concurrent_publishers_of_one_version_exactly_one_wins(store: ModelStore) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def publish(i: int) -> None:
        barrier.wait()
        try:
            store.publish("offers", "v2", {"model.json": f"writer {i}".encode() * 1000})
            outcomes.append("won")
        except VersionExistsError:
            outcomes.append("refused")

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 7 + ["won"]
    assert load_version(store.version_uri("offers", "v2")).files["model.json"].startswith(b"writer ")


@pytest.mark.parametrize("name", ["model.json", "MANIFEST.json"])
def test_one_corrupt_byte_fails_loading(store: ModelStore, name: str) -> None:
    published = store.publish("offers", "v1", FILES)
    uri = published.uri
    assert load_version(uri, published.manifest_sha256).manifest_sha256 == published.manifest_sha256
    path = Path(uri.removeprefix("file://")) / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactCorruptError, match=name):
        load_version(uri, manifest_sha256=published.manifest_sha256)


def test_missing_version_and_bad_names(store: ModelStore) -> None:
    with pytest.raises(VersionNotFoundError):
        load_version(store.version_uri("offers", "nope"))
    with pytest.raises(ValueError, match="invalid version"):
        store.publish("offers", "../escape", FILES)


def test_memory_filesystem_publish(tmp_path: Path) -> None:
    store = ModelStore("memory://clickcast-test-store")
    uri = store.publish("offers", "v1", FILES).uri
    assert load_version(uri).files == FILES
    with pytest.raises(VersionExistsError):
        store.publish("offers", "v1", FILES)


def test_layout_round_trips_version_uris() -> None:
    uri = layout.version_uri("s3://bucket/store/", "offers", "v20261127-1")
    assert uri == "s3://bucket/store/models/offers/v20261127-1"
    assert layout.parse_version_uri(uri) == layout.VersionRef("s3://bucket/store", "offers", "v20261127-1")
    assert layout.parse_version_uri(uri).uri == uri  # type: ignore[union-attr]
    assert layout.parse_version_uri("s3://bucket/store/models/offers/.staging") is None
    assert layout.parse_version_uri("file:///tmp/elsewhere") is None
    assert layout.prediction_log_url("file:///s/", "offers") == "file:///s/predictions/offers"
    # An attempt's files, found from the version it was committed as (what a reader of an S3 manifest does).
    assert layout.attempt_dir(uri, "a1") == layout.staging_dir("s3://bucket/store", "offers", "v20261127-1", "a1")
    assert layout.attempt_dir(uri, "a1") == "s3://bucket/store/models/offers/.staging/v20261127-1-a1"


def test_a_filesystem_without_atomic_create_is_refused_for_publishing(tmp_path: Path) -> None:
    from fsspec.implementations.dirfs import DirFileSystem
    from fsspec.implementations.local import LocalFileSystem

    store = ModelStore(f"file://{tmp_path}/store")
    store.fs = DirFileSystem(path=str(tmp_path), fs=LocalFileSystem())  # check-then-write only: not atomic
    with pytest.raises(StoreError, match="no atomic create-if-absent"):
        store.publish("offers", "v1", FILES)
