"""Detached local servers (MinIO, the Git server) are stopped by the pid their `up` wrote."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def stop(pid_file: Path) -> bool:
    """SIGTERM the process `pid_file` names and remove the file; False if none ran."""
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    finally:
        pid_file.unlink(missing_ok=True)
    return True
