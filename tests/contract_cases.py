"""One table of contract cases, run against training (Spark, tests/spark) and serving (HTTP, tests/serving).

Each case is one row: a valid offer with one change. `reason` is the bad-row
reason training must count it under (None: valid); serving must refuse exactly
the rows training rejects, naming `field`. Labelled cases (clicks, run date,
duplicates) only exist in training data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from clickcast.features import contract
from clickcast.features.contract import CATEGORY, CATEGORY_ID, DATE, DEVICE, MERCHANT_ID, PRICE

RUN_DATE = dt.date(2026, 3, 1)
VALID: dict[str, Any] = {
    DATE: "2026-02-20", CATEGORY_ID: "c1", MERCHANT_ID: "m1", CATEGORY: "toys", DEVICE: "mobile", PRICE: 10.5,
}  # fmt: skip
INF, NAN = float("inf"), float("nan")


@dataclass(frozen=True)
class Case:
    name: str
    change: dict[str, Any]
    reason: str | None
    labelled_only: bool = False
    clicks: float | None = 2.0
    field: str = field(default="")

    def row(self, index: int) -> dict[str, Any]:
        """The case's row; ids made unique by `index` unless the case sets them, so no two cases collide."""
        unique = {CATEGORY_ID: f"c{index}", MERCHANT_ID: f"m{index}"}
        return {**VALID, **unique, **self.change}


def _case(name: str, change: dict[str, Any], reason: str | None, **kw: Any) -> Case:
    return Case(name, change, reason, field=next(iter(change), ""), **kw)


CASES: list[Case] = [
    _case("valid", {}, None),
    _case("price zero", {PRICE: 0.0}, None),
    _case("id of 256 characters", {MERCHANT_ID: "m" * 256}, None),
    _case("date is the run date", {DATE: RUN_DATE.isoformat()}, None),
    _case("unicode ids", {CATEGORY: "jouets é"}, None),
    _case("empty categoryId", {CATEGORY_ID: ""}, contract.empty_id(CATEGORY_ID)),
    _case("null merchantId", {MERCHANT_ID: None}, contract.empty_id(MERCHANT_ID)),
    _case("empty category", {CATEGORY: ""}, contract.empty_id(CATEGORY)),
    _case("id of 257 characters", {MERCHANT_ID: "m" * 257}, contract.long_id(MERCHANT_ID)),
    _case("device capitalised", {DEVICE: "Mobile"}, contract.INVALID_DEVICE),
    _case("device with a space", {DEVICE: "mobile "}, contract.INVALID_DEVICE),
    _case("device unknown", {DEVICE: "smartwatch"}, contract.INVALID_DEVICE),
    _case("device null", {DEVICE: None}, contract.INVALID_DEVICE),
    _case("device empty", {DEVICE: ""}, contract.INVALID_DEVICE),
    _case("price NaN", {PRICE: NAN}, contract.INVALID_PRICE),
    _case("price infinite", {PRICE: INF}, contract.INVALID_PRICE),
    _case("price minus infinity", {PRICE: -INF}, contract.INVALID_PRICE),
    _case("price negative", {PRICE: -0.01}, contract.INVALID_PRICE),
    _case("price null", {PRICE: None}, contract.INVALID_PRICE),
    _case("date impossible", {DATE: "2026-02-30"}, contract.INVALID_DATE),
    _case("date without zero padding", {DATE: "2026-2-5"}, contract.INVALID_DATE),
    _case("date with a time", {DATE: "2026-02-05T00:00:00"}, contract.INVALID_DATE),
    _case("date as a number", {DATE: "20260205"}, contract.INVALID_DATE),
    _case("date null", {DATE: None}, contract.INVALID_DATE),
    # Labelled data only.
    _case("date after the run date", {DATE: "2026-03-02"}, contract.FUTURE_DATE, labelled_only=True),
    _case("clicks zero", {}, None, labelled_only=True, clicks=0.0),
    _case("clicks NaN", {}, contract.INVALID_CLICKS, labelled_only=True, clicks=NAN),
    _case("clicks infinite", {}, contract.INVALID_CLICKS, labelled_only=True, clicks=INF),
    _case("clicks negative", {}, contract.INVALID_CLICKS, labelled_only=True, clicks=-1.0),
    _case("clicks null", {}, contract.INVALID_CLICKS, labelled_only=True, clicks=None),
]

SERVING_CASES = [c for c in CASES if not c.labelled_only]
