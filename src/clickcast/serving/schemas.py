"""Request and response schemas of the prediction API, matching the click data contract.

Field names on the wire are the contract's column names (camelCase); ids are
strings but numbers are accepted and turned into strings, as in training.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from clickcast.features import contract

Text = Annotated[str, Field(min_length=1, max_length=256)]
MAX_BATCH = 10_000


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, coerce_numbers_to_str=True, extra="ignore", frozen=True)


class Offer(_Wire):
    """One offer on one day: the contract's input columns."""

    date: datetime.date = Field(description="The offer's day, YYYY-MM-DD.")
    category_id: Text = Field(alias=contract.CATEGORY_ID)
    merchant_id: Text = Field(alias=contract.MERCHANT_ID)
    category: Text
    device: Literal["desktop", "mobile", "tablet"]
    price: float = Field(ge=0, allow_inf_nan=False)
    offer_id: Text | None = Field(default=None, alias="offerId", description="Echoed back; not used by the model.")
    request_id: Text | None = Field(
        default=None, alias="requestId", description="Idempotency/trace id; generated if absent."
    )


class BatchRequest(_Wire):
    offers: list[Offer] = Field(min_length=1, max_length=MAX_BATCH)
    request_id: Text | None = Field(default=None, alias="requestId")


class Prediction(_Wire):
    request_id: str = Field(alias="requestId")
    offer_id: str | None = Field(default=None, alias="offerId")
    predicted_clicks: float = Field(alias="predictedClicks", description="Expected clicks for the offer on that day.")
    model_version: str = Field(alias="modelVersion")
    role: Literal["stable", "canary", "shadow"]


class BatchPrediction(_Wire):
    request_id: str = Field(alias="requestId")
    predicted_clicks: list[float] = Field(alias="predictedClicks", description="One per offer, in request order.")
    model_version: str = Field(alias="modelVersion")
    role: Literal["stable", "canary", "shadow"]


class ModelInfo(_Wire):
    model: str
    version: str
    role: str
    manifest_sha256: str = Field(alias="manifestSha256")
    created_at: str = Field(alias="createdAt")
    metrics: dict[str, Any]
    features: dict[str, Any] = Field(description="Feature spec summary: names, types, vocabulary sizes.")


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    detail: list[FieldError]


assert contract.DEVICES == ("desktop", "mobile", "tablet"), "keep Offer.device in step with the contract"

OFFER = TypeAdapter(Offer)
BATCH = TypeAdapter(BatchRequest)
