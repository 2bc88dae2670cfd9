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
