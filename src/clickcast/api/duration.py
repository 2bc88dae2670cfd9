"""Durations written the Kubernetes way ("90s", "5m", "1h30m", "7d")."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, Field

DURATION_PATTERN = r"^([0-9]+(s|m|h|d))+$"
_PART = re.compile(r"([0-9]+)(s|m|h|d)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """Parse "1h30m" into a timedelta; raise ValueError on anything else."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"invalid duration {text!r}: use a number and a unit s, m, h or d, e.g. 90s, 1h30m")
    return timedelta(seconds=sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text)))


def _check(text: str) -> str:
    if parse_duration(text) <= timedelta(0):
        raise ValueError("duration must be positive")
    return text


Duration = Annotated[str, Field(pattern=DURATION_PATTERN), AfterValidator(_check)]
"""A positive duration such as "30s", "5m", "1h30m" or "7d"."""
