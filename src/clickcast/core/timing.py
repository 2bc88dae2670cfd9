"""When things are due: cron fires (missed ones collapse into one) and retry backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from croniter import croniter

RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)


def latest_fire(schedule: str, now: datetime) -> datetime:
    """The most recent fire time of `schedule` at or before `now` (UTC)."""
    # croniter's get_prev is strictly before its start: start a second later so `now` itself counts.
    it = croniter(schedule, now.astimezone(UTC) + timedelta(seconds=1))
    return it.get_prev(datetime).astimezone(UTC)


def next_fire(schedule: str, now: datetime) -> datetime:
    """The first fire time strictly after `now`."""
    return croniter(schedule, now.astimezone(UTC)).get_next(datetime).astimezone(UTC)


def retry_delay(failures: int) -> timedelta:
    """1m, 2m, 4m ... capped at 1h after `failures` consecutive failures."""
    if failures <= 0:
        return timedelta(0)
    delay: timedelta = RETRY_BASE * 2 ** min(failures - 1, 10)
    return min(RETRY_CAP, delay)
