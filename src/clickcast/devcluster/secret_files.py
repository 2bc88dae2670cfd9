"""The credentials a local server's `up` hands over: a directory with one owner-only file per key, as a
Secret holds them (`kubectl create secret generic NAME --from-file=<dir>`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write(directory: Path, data: Mapping[str, str]) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for key, value in data.items():
        path = directory / key
        path.touch(mode=0o600)
        path.write_text(value)


def read(directory: Path) -> dict[str, str]:
    """Every key `write` wrote (OSError if the directory is not there)."""
    return {p.name: p.read_text() for p in sorted(directory.iterdir())}
