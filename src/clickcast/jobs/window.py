"""The time-based holdout: learn on the past, test on the most recent days."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from clickcast.api.spec import DataWindow


class WindowError(ValueError):
    """The data does not cover enough days for the requested window."""


@dataclass(frozen=True)
class Holdout:
    train_start: dt.date
    train_end: dt.date
    test_start: dt.date
    test_end: dt.date


def holdout(first_day: dt.date, last_day: dt.date, window: DataWindow) -> Holdout:
    """Test on the last `testDays` days of the data, train on up to `trainDays` days before them."""
    test_start = last_day - dt.timedelta(days=window.test_days - 1)
    train_end = test_start - dt.timedelta(days=1)
    if train_end < first_day:
        span = (last_day - first_day).days + 1
        raise WindowError(
            f"the data covers {span} days ({first_day}..{last_day}): not enough to hold out "
            f"{window.test_days} test days and keep at least one training day"
        )
    train_start = max(first_day, train_end - dt.timedelta(days=window.train_days - 1))
    return Holdout(train_start, train_end, test_start, last_day)


MIN_TRAIN_ROWS = 1000
"""Fewer valid rows than this in the training window cannot fit the feature spec and the model meaningfully."""
MIN_TEST_ROWS = 100
"""Fewer valid rows than this in the test window make the gate metrics noise."""


def check_window_rows(
    split: Holdout, train_rows: int, test_rows: int, min_train: int = MIN_TRAIN_ROWS, min_test: int = MIN_TEST_ROWS
) -> None:
    """Refuse a holdout whose windows hold too few valid rows, naming the window, its rows and the minimum."""
    for window, start, end, rows, minimum in (
        ("training", split.train_start, split.train_end, train_rows, min_train),
        ("test", split.test_start, split.test_end, test_rows, min_test),
    ):
        if rows < minimum:
            raise WindowError(
                f"the {window} window {start}..{end} has {rows} valid rows; at least {minimum} are needed "
                "(more data, or a longer window)"
            )
