"""Shared pydantic configuration for every ClickModel API object.

Python attributes are snake_case, the wire format (YAML, the Kubernetes API)
is camelCase, as in every Kubernetes API. Attribute docstrings become field
descriptions, so the CRD (and `kubectl explain`) documents each field from
the same text a Python reader sees.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """Base of spec objects: strict about unknown fields, camelCase on the wire."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
        validate_default=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The object as the Kubernetes API stores it (camelCase, no nulls)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class FieldRuleError(ValueError):
    """A cross-field rule broken by one named field (reported at that field's path)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def cel(*rules: tuple[str, str] | tuple[str, str, str]) -> dict[str, Any]:
    """`x-kubernetes-validations` for a schema node: (rule, message[, fieldPath]).

    The same cross-field rules are enforced offline by pydantic validators in
    the models; tests run both against the same invalid manifests.
    """
    out = []
    for r in rules:
        item = {"rule": r[0], "message": r[1]}
        if len(r) == 3:
            item["fieldPath"] = r[2]
        out.append(item)
    return {"x-kubernetes-validations": out}
