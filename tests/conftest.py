"""Session services shared by several test folders: the local S3-compatible server (MinIO)."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fsspec.config
import pytest
import s3fs

from clickcast.devcluster import objectstore
from clickcast.store import credentials


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
