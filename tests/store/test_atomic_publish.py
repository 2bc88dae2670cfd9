"""The store's two races, on local files and on a real S3 server: concurrent publishers, and a crash midway.

A version must be either complete and verified or absent, whatever happens.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clickcast.store import ModelStore, VersionExistsError, VersionNotFoundError, layout, load_version
from tests.conftest import S3
from tests.store.crash_publisher import CRASH_EXIT, FILES

WRITERS = 6


@pytest.fixture(params=["file", pytest.param("s3", marks=pytest.mark.s3)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return f"file://{tmp_path}/store"
    s3: S3 = request.getfixturevalue("s3")
    return s3.prefix("store")


def _writer_files(i: int) -> dict[str, bytes]:
    # Every file says which writer wrote it, and sizes differ, so a mix of two writers cannot verify.
    return {name: f"writer {i} {name} ".encode() * (200 + 37 * i) for name in FILES}


def test_concurrent_publishers_exactly_one_commits_and_all_its_files_verify(store_url: str) -> None:
    store = ModelStore(store_url)
    barrier = threading.Barrier(WRITERS)
    outcomes: dict[int, str] = {}

    def publish(i: int) -> None:
        barrier.wait()
        try:
            store.publish("offers", "v1", _writer_files(i))
            outcomes[i] = "won"
        except VersionExistsError:
            outcomes[i] = "refused"

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, outcome in outcomes.items() if outcome == "won"]
    assert len(outcomes) == WRITERS and len(winners) == 1, outcomes
    loaded = load_version(store.version_uri("offers", "v1"))  # verifies every checksum
    assert dict(loaded.files) == _writer_files(winners[0])
    assert store.list_versions("offers") == ["v1"]
    # The losers cleaned up after themselves: only the winner's attempt (object stores) or nothing (local) is left.
    staging = layout.model_dir(store.root, "offers") + "/" + layout.STAGING
    store.fs.invalidate_cache()
    left = store.fs.ls(staging, detail=False) if store.fs.exists(staging) else []
    assert len(left) == (0 if store_url.startswith("file://") else 1)


@pytest.mark.parametrize("crash_after", [1, 2, 3])
def test_a_publisher_killed_midway_leaves_no_version_and_a_retry_commits(
    store_url: str, crash_after: int, request: pytest.FixtureRequest
) -> None:
    env = request.getfixturevalue("s3").env() if store_url.startswith("s3://") else None
    proc = subprocess.run(
        [sys.executable, "-m", "tests.store.crash_publisher", store_url, "v1", str(crash_after)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == CRASH_EXIT, proc.stderr
    store = ModelStore(store_url)
    uri = store.version_uri("offers", "v1")
    with pytest.raises(VersionNotFoundError):
        load_version(uri)
    assert store.list_versions("offers") == []
    published = store.publish("offers", "v1", FILES)  # the version can be published again
    assert load_version(uri, published.manifest_sha256).files == FILES


def test_a_version_is_never_overwritten(store_url: str) -> None:
    store = ModelStore(store_url)
    first = store.publish("offers", "v1", FILES)
    with pytest.raises(VersionExistsError, match="immutable"):
        store.publish("offers", "v1", {"model.json": b"other"})
    assert load_version(first.uri, first.manifest_sha256).files == FILES


def test_garbage_of_dead_publishers_is_collected_once_old_and_nothing_else(
    store_url: str, request: pytest.FixtureRequest
) -> None:
    env = request.getfixturevalue("s3").env() if store_url.startswith("s3://") else None
    proc = subprocess.run(
        [sys.executable, "-m", "tests.store.crash_publisher", store_url, "v1", "2"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == CRASH_EXIT, proc.stderr
    store = ModelStore(store_url)
    published = store.publish("offers", "v2", FILES)  # committed: on S3 its files stay under its attempt
    staging = layout.model_dir(store.root, "offers") + "/" + layout.STAGING
    store.fs.invalidate_cache()
    before = sorted(store.fs.ls(staging, detail=False))
    assert len(before) == (1 if store_url.startswith("file://") else 2)  # the dead attempt (+ v2's on S3)
    # Young: it could be a publish in progress, so it stays.
    assert store.collect_garbage("offers") == []
    # Old: the dead attempt goes, the committed version's attempt stays and still verifies.
    later = datetime.now(UTC) + timedelta(days=3)
    removed = store.collect_garbage("offers", now=later)
    assert len(removed) == 1 and "/v1-" in removed[0]
    store.fs.invalidate_cache()
    left = sorted(store.fs.ls(staging, detail=False)) if store.fs.exists(staging) else []
    assert left == [p for p in before if "/v1-" not in p]
    assert load_version(published.uri, published.manifest_sha256).files == FILES
    assert store.collect_garbage("offers", now=later) == []
