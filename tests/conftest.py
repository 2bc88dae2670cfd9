"""What every test folder shares: how the suite is spread over workers, and the local S3 server (MinIO).

`make test` runs the suite on pytest-xdist workers with the scheduler below. The suite is mostly CPU-bound
(Spark runs, BentoML start-ups), so two workers on two cores overlap the waits (operators, pods, polls)
without doubling the work on a core. The Spark tests share one session and one trained version, so they
stay together on one worker (their own group), as do the tests of the one cluster whose pods really run.
Each worker starts its own services (control plane, MinIO, Spark) the first time a test asks for them.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec.config
import pytest
import s3fs

from clickcast.devcluster import objectstore
from clickcast.store import credentials
from tests import jvm


def pytest_configure(config: pytest.Config) -> None:
    """Every Spark JVM of the run starts with the tests' flags and class archive (tests/jvm.py).

    Set in the controller before xdist starts its workers, which inherit the environment. A run of the
    unit tests alone starts no JVM, so it does not dump the archive. A value the caller set wins.
    """
    if hasattr(config, "workerinput") or config.option.markexpr.strip() == "unit":
        return
    for name, value in jvm.environment().items():
        os.environ.setdefault(name, value)


GROUPS = {
    "tests/spark/": "spark",
    "tests/k8s/test_cluster_demo.py": "workloads",
    "tests/k8s/test_workload_runner.py": "workloads",
}
"""Tests that share an expensive per-worker fixture run on one worker, one after another: test id prefix -> group.

(A scheduler of our own rather than xdist's `xdist_group` marks: with pytest 9.2 xdist 3.8 no longer
groups by them, and ungrouped Spark tests each start a JVM and train on every worker.)
"""

FIRST = ("e2e", "k8s", "s3", "report", "chart")
"""Markers of the tests that take longest: scheduled first so that no worker starts a long test at the end."""


def group_of(nodeid: str) -> str | None:
    return next((group for prefix, group in GROUPS.items() if nodeid.startswith(prefix)), None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long tests first, so that the workers end together (a group is sent as one unit, largest first)."""

    def rank(item: pytest.Item) -> int:
        marks = {m.name for m in item.iter_markers()}
        return next((i for i, name in enumerate(FIRST) if name in marks), len(FIRST))

    items.sort(key=rank)  # stable: the order inside a rank (and so fixture reuse) is kept


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's scope scheduler with GROUPS as the scopes and every other test a scope of its own."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid) or nodeid

    return GroupScheduling(config, log)


@dataclass(frozen=True)
class S3:
    """A running MinIO on loopback with one bucket; its storage options are installed in this process."""

    server: objectstore.S3Server
    bucket: str
    options: credentials.StorageOptions
    options_file: Path  # what a pod's mounted storageOptionsSecret would be: CLICKCAST_STORAGE_OPTIONS

    def url(self, *parts: str) -> str:
        """s3://<bucket>/<parts...> under a fresh prefix per call site (tests must not see each other's data)."""
        return "/".join([f"s3://{self.bucket}", *parts])

    def prefix(self, name: str) -> str:
        return self.url(f"{name}-{secrets.token_hex(4)}")

    def env(self) -> dict[str, str]:
        """Environment of a subprocess that must reach the server (as the pod env would be)."""
        return {**os.environ, credentials.ENV: str(self.options_file)}

    @property
    def fs(self) -> s3fs.S3FileSystem:
        return s3fs.S3FileSystem(**self.options.fsspec())


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3]:
    root = tmp_path_factory.mktemp("minio")
    server = objectstore.start(root / "data")
    saved = dict(fsspec.config.conf)
    try:
        options = credentials.StorageOptions.from_mapping(server.storage_options())
        options_file = root / "storage-options.json"
        options_file.write_text(json.dumps(server.storage_options()))
        options_file.chmod(0o600)
        credentials.install(options)
        bucket = "clickcast-test"
        s3fs.S3FileSystem(**options.fsspec()).mkdir(bucket)
        yield S3(server, bucket, options, options_file)
    finally:
        server.stop()
        fsspec.config.conf.clear()
        fsspec.config.conf.update(saved)
        s3fs.S3FileSystem.clear_instance_cache()
