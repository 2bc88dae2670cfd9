"""The OpenAPI document of the prediction app, generated from the pydantic schemas."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from clickcast import __version__
from clickcast.serving.schemas import BatchPrediction, BatchRequest, ModelInfo, Offer, Prediction, ValidationErrorBody

_REF = "#/components/schemas/{model}"


def _json_body(name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": _REF.format(model=name)}}}}


def _post(summary: str, request: str, response: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, **_json_body(request)},
            "responses": {
                "200": {"description": "Predicted clicks", **_json_body(response)},
                "422": {
                    "description": "Invalid request; `detail[].loc` names the field",
                    **_json_body("ValidationErrorBody"),
                },
                "503": {"description": "Model not loaded"},
            },
        }
    }


def _get(summary: str, content: dict[str, Any] | None = None) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK", **(content or {})}
    return {"get": {"summary": summary, "responses": {"200": ok, "503": {"description": "Not ready"}}}}


@functools.cache
def openapi_document() -> dict[str, Any]:
    inputs: list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]] = [
        ("Offer", "validation", TypeAdapter(Offer)),
        ("BatchRequest", "validation", TypeAdapter(BatchRequest)),
        *((t.__name__, "serialization", TypeAdapter(t)) for t in (Prediction, BatchPrediction, ModelInfo)),
        ("ValidationErrorBody", "serialization", TypeAdapter(ValidationErrorBody)),
    ]
    _, schemas = TypeAdapter.json_schemas(inputs, ref_template=_REF)
    return {
        "openapi": "3.1.0",
        "info": {"title": "clickcast prediction service", "version": __version__},
        "paths": {
            "/predict": _post("Predict the clicks of one offer on one day", "Offer", "Prediction"),
            "/predict/batch": _post("Predict many offers at once", "BatchRequest", "BatchPrediction"),
            "/model": _get("The served model version, its training metrics and feature spec", _json_body("ModelInfo")),
            "/livez": _get("Liveness: the process answers"),
            "/readyz": _get("Readiness: the model is verified and loaded"),
            "/metrics": _get("Prometheus metrics"),
        },
        "components": {"schemas": schemas["$defs"]},
    }
