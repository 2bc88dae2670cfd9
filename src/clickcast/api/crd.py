"""Generate the ClickModel CustomResourceDefinition from the pydantic models.

The models are the single source of truth: `clickcast crd` prints this, the
committed `manifests/crds/` copy is checked against it by a test, and the
Helm chart ships the same file. Pydantic's JSON Schema is turned into a
Kubernetes *structural* schema: references inlined, `Optional` unwrapped,
complete defaults filled in for nested objects (so that the API server
defaults a missing section and can check its CEL rules), and JSON Schema 2020 exclusive bounds rewritten
in the OpenAPI v3 form Kubernetes expects.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from clickcast.api import resource
from clickcast.api.base import ApiModel
from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus

_KEEP = {
    "type",
    "description",
    "properties",
    "required",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "maxProperties",
    "format",
    "additionalProperties",
    "nullable",
    "x-kubernetes-validations",
}

PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Stable", "type": "string", "jsonPath": ".status.stable.version"},
    {"name": "Candidate", "type": "string", "jsonPath": ".status.candidate.version"},
    {
        "name": "Canary",
        "type": "integer",
        "jsonPath": ".status.canary.weight",
        "description": "Traffic weight of the candidate (percent)",
    },
    {
        "name": "Deviance",
        "type": "number",
        "jsonPath": ".status.stable.deviance",
        "description": "Mean Poisson deviance of the stable version on its test window",
    },
    {
        "name": "Candidate Deviance",
        "type": "number",
        "jsonPath": ".status.candidate.deviance",
        "description": "Mean Poisson deviance of the candidate on its test window",
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def _all_models(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}
    stack: list[type[Any]] = [ApiModel]
    while stack:
        cls = stack.pop()
        seen[cls.__name__] = cls
        stack.extend(cls.__subclasses__())
    seen[root.__name__] = root
    return seen


def _factory_default(model: type[BaseModel], field_name: str) -> Any:
    field = model.model_fields[field_name]
    if field.default_factory is None:
        return None
    value = field.default_factory()  # type: ignore[call-arg]
    # The whole default, never `{}`: the API server checks a default against its node's CEL rules
    # without applying the nested defaults first, so `{}` fails any rule that reads a field
    # ("no such key: minCalibration") and the CRD itself is rejected.
    return TypeAdapter(type(value)).dump_python(value, mode="json", by_alias=True, exclude_none=True)


class _Converter:
    def __init__(self, schema: dict[str, Any], root: type[BaseModel]) -> None:
        self.defs: dict[str, Any] = schema.get("$defs", {})
        self.models = _all_models(root)

    def convert(self, node: dict[str, Any], model: type[BaseModel] | None) -> dict[str, Any]:
        node = dict(node)
        if "$ref" in node:
            name = node.pop("$ref").rsplit("/", 1)[-1]
            target = self.convert(self.defs[name], self.models.get(name))
            return {**target, **{k: v for k, v in node.items() if k in ("description", "default")}}
        if "anyOf" in node:
            variants = [v for v in node.pop("anyOf") if v.get("type") != "null"]
            if len(variants) != 1:
                raise ValueError(f"union types cannot be expressed in a structural schema: {variants}")
            inner = self.convert(variants[0], None)
            if node.get("default") is None:
                node.pop("default", None)  # "unset" is expressed by omission, not null
            return {**inner, **{k: v for k, v in node.items() if k in _KEEP}}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key not in _KEEP:
                continue
            if key == "properties":
                props = {}
                for pname, pschema in value.items():
                    converted = self.convert(pschema, None)
                    if model is not None and "default" not in converted:
                        field_name = _field_by_alias(model, pname)
                        default = _factory_default(model, field_name) if field_name else None
                        if default is not None:
                            converted["default"] = default
                    props[pname] = converted
                out["properties"] = props
            elif key == "items" or (key == "additionalProperties" and isinstance(value, dict)):
                out[key] = self.convert(value, None)
            elif key == "additionalProperties":
                continue  # `false` is implied: unknown fields are rejected by strict field validation
            elif key in ("exclusiveMinimum", "exclusiveMaximum"):
                bound = "minimum" if key == "exclusiveMinimum" else "maximum"
                out[bound] = value
                out[key] = True
            else:
                out[key] = value
        if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
            out["x-kubernetes-preserve-unknown-fields"] = True
        return out


def _field_by_alias(model: type[BaseModel], alias: str) -> str | None:
    for name, field in model.model_fields.items():
        if (field.alias or name) == alias:
            return name
    return None


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of one pydantic model."""
    schema = model.model_json_schema(by_alias=True)
    return _Converter(schema, model).convert(schema, model)


def custom_resource_definition() -> dict[str, Any]:
    """The full CRD manifest for ClickModel."""
    spec_schema = structural_schema(ClickModelSpec)
    status_schema = structural_schema(ClickModelStatus)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{resource.PLURAL}.{resource.GROUP}",
            "labels": {"app.kubernetes.io/part-of": "clickcast"},
        },
        "spec": {
            "group": resource.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": resource.KIND,
                "listKind": f"{resource.KIND}List",
                "plural": resource.PLURAL,
                "singular": resource.SINGULAR,
                "shortNames": list(resource.SHORT_NAMES),
                "categories": list(resource.CATEGORIES),
            },
            "versions": [
                {
                    "name": resource.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "A click-prediction model managed end to end by clickcast: Spark training, "
                            "metric gates, a BentoML canary on real clicks, GitOps promotion and quality tracking.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }
