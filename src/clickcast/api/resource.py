"""The ClickModel custom resource: group, names and the envelope model."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus

GROUP = "clickcast.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "ClickModel"
PLURAL = "clickmodels"
SINGULAR = "clickmodel"
SHORT_NAMES = ("ckm",)
CATEGORIES = ("clickcast",)

DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


class ObjectMeta(BaseModel):
    """The part of metadata clickcast reads; everything else passes through."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    name: Annotated[str, Field(min_length=1, max_length=63, pattern=DNS1123_SUBDOMAIN)]
    namespace: Annotated[str, Field(min_length=1, max_length=63)] | None = None
    generation: int | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class ClickModel(BaseModel):
    """A click-prediction model managed end to end by clickcast."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    api_version: Literal["clickcast.io/v1alpha1"] = Field("clickcast.io/v1alpha1", alias="apiVersion")
    kind: Literal["ClickModel"] = "ClickModel"
    metadata: ObjectMeta
    spec: ClickModelSpec
    status: ClickModelStatus | None = None

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
