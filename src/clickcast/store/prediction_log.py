"""The prediction log: what each served version predicted, for comparison with real clicks later.

Written by the prediction service, read by the evaluation job. Layout under
the log URL (by default `<store>/predictions/<ClickModel name>`):

    <log>/date=YYYY-MM-DD/part-<unix-ms>-<writer id>-<seq>.parquet

partitioned by the offer's day (`date`), so evaluation of a day reads one
directory. Files are written whole under a temporary name and renamed (or
written in one put on object stores), so a reader never sees half a file.
"""

from __future__ import annotations

from typing import Final

from clickcast.api.roles import Role
from clickcast.features import contract

REQUEST_ID: Final = "request_id"
TIMESTAMP: Final = "ts"
MODEL: Final = "model"
MODEL_VERSION: Final = "model_version"
ROLE: Final = "role"
PREDICTED: Final = "predicted"

ROLES: Final = tuple(Role)
"""stable: answered by the stable version; canary: answered by the candidate in split mode;
shadow: computed by the candidate on a mirrored request, not returned to the caller."""

COLUMNS: Final = (
    REQUEST_ID,  # string, unique per request (a batch request shares one id, rows differ by offer key)
    TIMESTAMP,  # timestamp[ms, UTC] of the prediction
    # The contract's input columns: date (string YYYY-MM-DD in the file; also the partition key),
    # categoryId, merchantId, category, device (strings), price (double).
    *contract.INPUT_COLUMNS,
    MODEL,  # string: the ClickModel name
    MODEL_VERSION,  # string
    ROLE,  # string, one of ROLES
    PREDICTED,  # double: expected clicks
)
"""Columns of every prediction-log file, in order."""


def partition_dir(log_url: str, day: str) -> str:
    """Directory of one day's prediction-log files."""
    return f"{log_url.rstrip('/')}/date={day}"
