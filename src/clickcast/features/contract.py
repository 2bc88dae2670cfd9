"""The click data contract: one row per offer and day.

Training data, batch-scoring input and prediction requests all follow it;
extra columns are allowed and ignored.
"""

from __future__ import annotations

from typing import Final

DATE: Final = "date"
CATEGORY_ID: Final = "categoryId"
MERCHANT_ID: Final = "merchantId"
CATEGORY: Final = "category"
DEVICE: Final = "device"
PRICE: Final = "price"
CLICKS: Final = "clicks"

DEVICES: Final = ("desktop", "mobile", "tablet")
"""The only device values the contract allows."""

OFFER_KEY: Final = (CATEGORY_ID, MERCHANT_ID, CATEGORY, DEVICE)
"""Columns that identify an offer; with the date they identify a row (the join key for real clicks)."""

INPUT_COLUMNS: Final = (DATE, CATEGORY_ID, MERCHANT_ID, CATEGORY, DEVICE, PRICE)
"""Columns a prediction needs."""

ID_COLUMNS: Final = (CATEGORY_ID, MERCHANT_ID, CATEGORY)
"""Identifier columns: strings (numbers are taken as their text), never empty, at most MAX_ID_LENGTH long."""

MAX_ID_LENGTH: Final = 256

# The rules every row must pass: training data, evaluation actuals, batch-scoring input and prediction
# requests alike (jobs.data applies them in Spark, serving.schemas in pydantic; one table of bad rows
# tests both). A rejected row is counted under the first reason it meets, in this order:
INVALID_DATE: Final = "invalid date"  # null, or not a calendar date
FUTURE_DATE: Final = "date after the run date"  # labelled data only: clicks cannot come from the future
INVALID_DEVICE: Final = "unknown device"  # null, or not exactly one of DEVICES (no case or space folding)
INVALID_PRICE: Final = "invalid price"  # null, NaN, infinite or negative
INVALID_CLICKS: Final = "invalid clicks"  # labelled data only: null, NaN, infinite or negative
DUPLICATE_OFFER_DAY: Final = "duplicate offer-day"
"""Labelled data only: every row of an offer-day (date + OFFER_KEY) that appears more than once is rejected,
since which copy holds the real clicks is unknown; training and evaluation both see one label per offer-day."""


def empty_id(column: str) -> str:
    """Reason of a null or empty identifier."""
    return f"empty {column}"


def long_id(column: str) -> str:
    """Reason of an identifier longer than MAX_ID_LENGTH."""
    return f"{column} longer than {MAX_ID_LENGTH}"
