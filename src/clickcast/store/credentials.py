"""Object-storage credentials and endpoint: the keys of `spec.data.storageOptionsSecret`, for fsspec and Spark.

The Secret holds fsspec (s3fs) storage options, one key each: `key`, `secret`,
optionally `token`, `endpoint_url` (an S3-compatible server such as MinIO) and
`region`. The AWS environment names (`AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ENDPOINT_URL`, `AWS_REGION`)
are accepted too. A pod gets them by mounting the Secret as a directory and
pointing `CLICKCAST_STORAGE_OPTIONS` at it (or at a JSON file); `install()`
makes them the defaults of every s3:// filesystem in the process, so the
model store, the prediction log and the jobs all use them without passing
them around. Values are never printed: the repr hides them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec.config

MOUNT_PATH = "/var/run/secrets/clickcast/storage"
"""Where clickcast's pods mount the storageOptionsSecret (and point ENV at)."""
ENV = "CLICKCAST_STORAGE_OPTIONS"
"""Path of the mounted storageOptionsSecret (a directory, one file per key) or of a JSON object."""

_ALIASES = {
    "key": "key",
    "access_key": "key",
    "AWS_ACCESS_KEY_ID": "key",
    "secret": "secret",
    "secret_key": "secret",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "token": "token",
    "AWS_SESSION_TOKEN": "token",
    "endpoint_url": "endpoint_url",
    "AWS_ENDPOINT_URL": "endpoint_url",
    "AWS_ENDPOINT_URL_S3": "endpoint_url",
    "region": "region",
    "AWS_REGION": "region",
    "AWS_DEFAULT_REGION": "region",
}


class CredentialsError(ValueError):
    """The storage options cannot be read (the message names the path and key, never a value)."""


@dataclass(frozen=True)
class StorageOptions:
    """Credentials and endpoint of one S3-compatible store."""

    key: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    endpoint_url: str | None = None
    region: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, str]) -> StorageOptions:
        values: dict[str, str] = {}
        for name, value in data.items():
            if name not in _ALIASES:
                raise CredentialsError(f"unknown storage option {name!r}; known: {', '.join(sorted(_ALIASES))}")
            values[_ALIASES[name]] = str(value).strip()
        if bool(values.get("key")) != bool(values.get("secret")):
            raise CredentialsError("storage options need both a key and a secret, or neither")
        return cls(**{k: v for k, v in values.items() if v})

    def fsspec(self) -> dict[str, Any]:
        """s3fs keyword arguments."""
        pairs = (("key", self.key), ("secret", self.secret), ("token", self.token))
        out: dict[str, Any] = {name: value for name, value in pairs if value}
        if self.endpoint_url:
            out["endpoint_url"] = self.endpoint_url
        if self.region:
            out["client_kwargs"] = {"region_name": self.region}
        return out


def load(path: Path) -> StorageOptions:
    """Read a mounted Secret directory (one file per key; Kubernetes' `..data` links skipped) or a JSON file."""
    try:
        if path.is_dir():
            data = {p.name: p.read_text() for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")}
        else:
            data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"cannot read storage options from {path}: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"{path}: storage options must be a JSON object or a directory of keys")
    return StorageOptions.from_mapping(data)


def from_environment(environ: Mapping[str, str] | None = None) -> StorageOptions | None:
    """The options `CLICKCAST_STORAGE_OPTIONS` points at, or None when it is unset."""
    location = (os.environ if environ is None else environ).get(ENV)
    return load(Path(location)) if location else None


def install(options: StorageOptions) -> None:
    """Make `options` the defaults of every s3:// (and s3a://) filesystem this process opens.

    Explicit storage_options passed to a call still win. Cached filesystem
    instances are dropped, so none keeps old credentials.
    """
    fsspec.config.conf["s3"] = options.fsspec()
    fsspec.config.conf.pop("s3a", None)
    try:
        import s3fs  # noqa: PLC0415 - optional at import time of the store

        s3fs.S3FileSystem.clear_instance_cache()
    except ImportError:
        pass
