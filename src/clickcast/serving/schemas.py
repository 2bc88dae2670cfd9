"""Request and response schemas of the prediction API, matching the click data contract.

Keys on the wire are the contract's column names (camelCase). Values follow the
contract's rules (clickcast.features.contract), exactly as training applies them
to rows: ids are non-empty strings of at most MAX_ID_LENGTH characters (numbers
are taken as their text, as in training), the date is a YYYY-MM-DD string, the
device is spelled exactly as in DEVICES, the price is finite and not negative.
The schemas
are TypedDicts rather than models: pydantic-core validates a 1,000-offer batch
straight from JSON bytes about four times faster into dicts than into model
instances, and the hot path only reads the values once.
"""

from __future__ import annotations

import datetime
from typing import (
    Annotated,
    Literal,
    NotRequired,  # pydantic needs this TypedDict on Python < 3.12
)

from pydantic import ConfigDict, Field, Strict, TypeAdapter, with_config
from typing_extensions import TypedDict

from clickcast.api.roles import Role
from clickcast.features import contract

Text = Annotated[str, Field(min_length=1, max_length=contract.MAX_ID_LENGTH)]
Day = Annotated[datetime.date, Strict()]  # in JSON: only YYYY-MM-DD (lax mode also takes timestamps, datetimes)
MAX_BATCH = 10_000
_CONFIG = ConfigDict(coerce_numbers_to_str=True, extra="ignore")


@with_config(_CONFIG)
class Offer(TypedDict):
    """One offer on one day: the contract's input columns (extra keys are ignored)."""

    date: Day
    categoryId: Text
    merchantId: Text
    category: Text
    device: Literal["desktop", "mobile", "tablet"]
    price: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    offerId: NotRequired[Text]  # echoed back, not used by the model
    requestId: NotRequired[Text]  # trace id (also the X-Request-Id header); generated if absent


@with_config(_CONFIG)
class BatchRequest(TypedDict):
    offers: Annotated[list[Offer], Field(min_length=1, max_length=MAX_BATCH)]
    requestId: NotRequired[Text]


class Prediction(TypedDict):
    requestId: str
    offerId: str | None
    predictedClicks: float  # expected clicks of the offer on that day
    modelVersion: str
    role: Role


class BatchPrediction(TypedDict):
    requestId: str
    predictedClicks: list[float]  # one per offer, in request order
    modelVersion: str
    role: Role


class ModelInfo(TypedDict):
    model: str
    version: str
    role: str
    manifestSha256: str
    createdAt: str
    metrics: dict[str, object]
    features: dict[str, object]  # feature names, types, vocabulary sizes, date column


class FieldError(TypedDict):
    loc: list[str | int]  # e.g. ["body", "offers", 3, "device"]
    msg: str
    type: str


class ValidationErrorBody(TypedDict):
    detail: list[FieldError]


assert contract.DEVICES == ("desktop", "mobile", "tablet"), "keep Offer.device in step with the contract"

OFFER: TypeAdapter[Offer] = TypeAdapter(Offer)
BATCH: TypeAdapter[BatchRequest] = TypeAdapter(BatchRequest)
