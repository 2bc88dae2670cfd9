"""A publisher that dies midway: `python -m tests.store.crash_publisher STORE_URL VERSION N`.

It publishes FILES and is killed (os._exit, so no cleanup runs) right after
its N-th durable write: a file fsynced on local disks, an object put on S3.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from clickcast.store import artifacts, credentials

FILES = {"model.json": b"m" * 5000, "features.json": b"{}", "metrics.json": b'{"mae": 1.0}'}
CRASH_EXIT = 137


def main(store_url: str, version: str, crash_after: int) -> None:
    if (options := credentials.from_environment()) is not None:
        credentials.install(options)
    store = artifacts.ModelStore(store_url)
    writes = 0

    def counted(write: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal writes
            result = write(*args, **kwargs)
            writes += 1
            if writes >= crash_after:
                os._exit(CRASH_EXIT)
            return result

        return wrapper

    artifacts._write_durably = counted(artifacts._write_durably)  # type: ignore[attr-defined]
    store.fs.pipe_file = counted(store.fs.pipe_file)
    store.publish("offers", version, FILES)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
