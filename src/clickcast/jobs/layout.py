"""Where the jobs image keeps things: constants only, so `clickcast operator --help` need not import the API."""

from __future__ import annotations

from typing import Final

JOBS_DIR: Final = "/opt/clickcast/jobs"
"""Where the jobs image keeps the entry files (jobs/Dockerfile)."""
