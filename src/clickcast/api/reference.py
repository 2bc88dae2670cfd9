"""The configuration reference (`docs/configuration.md`), generated from the API models.

Structure, types, defaults and descriptions come from the pydantic fields;
constraints from pydantic's JSON schema of each field, so the reference
states the same limits as the CRD. `clickcast reference` writes the file and
a unit test fails when the committed copy is stale.
"""

from __future__ import annotations

import inspect
import json
import re
import types
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from clickcast.api.duration import DURATION_PATTERN
from clickcast.api.resource import API_VERSION, KIND
from clickcast.api.spec import CRON_PATTERN, QUANTITY_PATTERN, ClickModelSpec
from clickcast.api.status import ClickModelStatus

REQUIRED = "required"
UNSET = "unset"
OBJECT_DEFAULT = "—"  # an omitted object gets its fields' defaults, listed in its own section

# Patterns shared by many fields read better as a named format, explained once in the legend.
FORMATS = {DURATION_PATTERN: "duration", QUANTITY_PATTERN: "quantity", CRON_PATTERN: "cron"}
_SCALARS: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    datetime: "string (date-time)",
    date: "string (date)",
}


@dataclass(frozen=True)
class FieldDoc:
    """One row of the reference: a field by its full wire path."""

    path: str
    type: str
    default: str
    constraints: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class Section:
    """One object of the API (a model at a path) and its direct fields."""

    path: str
    description: str
    rules: tuple[str, ...]
    fields: tuple[FieldDoc, ...]


def anchor(path: str) -> str:
    """GitHub's anchor of a heading that is just `path` in backticks."""
    return re.sub(r"[^a-z0-9_-]", "", path.lower())


def sections(model: type[BaseModel], path: str, instance: BaseModel | None = None) -> list[Section]:
    """The model at `path` and every model nested in it, depth first.

    `instance` is the parent's default for this object, when it has one: a default
    such as `serving.resources` (1Gi) overrides the nested model's own (2Gi).
    """
    schema = model.model_json_schema(by_alias=True)
    defs = schema.get("$defs", {})
    rows: list[FieldDoc] = []
    nested: list[Section] = []
    for name, field in model.model_fields.items():
        alias = field.alias or name
        field_path = f"{path}.{alias}"
        node = _non_null(schema["properties"][alias])
        if instance is not None:
            value, has_value = getattr(instance, name), True
        else:
            has_value = not field.is_required()
            value = field.get_default(call_default_factory=True) if has_value else None
        rows.append(
            FieldDoc(
                path=field_path,
                type=_type(field.annotation, field_path, node),
                default=_default(value, has_value),
                constraints=tuple(_constraints(node, defs)),
                description=_one_line(field.description or ""),
            )
        )
        for suffix, inner in _models_in(field.annotation):
            inner_default = value if not suffix and isinstance(value, inner) else None
            nested.extend(sections(inner, field_path + suffix, inner_default))
    rules = tuple(r["message"] for r in schema.get("x-kubernetes-validations", []))
    own = Section(path, _one_line(inspect.cleandoc(model.__doc__ or "")), rules, tuple(rows))
    return [own, *nested]


def _non_null(node: dict[str, Any]) -> dict[str, Any]:
    """An optional field's schema without its `null` branch (the reference says `unset` instead)."""
    variants = [v for v in node.get("anyOf", []) if v.get("type") != "null"]
    if len(variants) == 1:
        return {**variants[0], **{k: v for k, v in node.items() if k != "anyOf"}}
    return node


def _type(tp: Any, path: str, node: dict[str, Any]) -> str:
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        return _type(args[0], path, node)
    if origin in (Union, types.UnionType):
        return " or ".join(_type(a, path, node) for a in args if a is not type(None))
    if origin is list:
        return "array of " + _type(args[0], path + "[]", node.get("items", {}))
    if origin is dict:
        return "map of " + _type(args[1], path + "[<key>]", node.get("additionalProperties", {}))
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return f"[object](#{anchor(path)})"
    if isinstance(tp, type) and issubclass(tp, Enum):
        return "string (enum)"
    named = FORMATS.get(node.get("pattern", ""))
    return f"string ({named})" if named else _SCALARS.get(tp, getattr(tp, "__name__", str(tp)))


def _models_in(tp: Any, suffix: str = "") -> list[tuple[str, type[BaseModel]]]:
    """Models inside a field's type, with the path suffix of each (`[]` for list items)."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        return _models_in(args[0], suffix)
    if origin in (Union, types.UnionType):
        return [m for a in args for m in _models_in(a, suffix)]
    if origin is list:
        return _models_in(args[0], suffix + "[]")
    if origin is dict:
        return _models_in(args[1], suffix + "[<key>]")
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [(suffix, tp)]
    return []


def _default(value: Any, has_value: bool) -> str:
    if not has_value:
        return REQUIRED
    if value is None:
        return UNSET
    if isinstance(value, BaseModel):
        return OBJECT_DEFAULT
    return f"`{json.dumps(to_jsonable_python(value, by_alias=True), ensure_ascii=False)}`"


def _constraints(node: dict[str, Any], defs: dict[str, Any]) -> list[str]:
    """Human-readable limits of one schema node, then its items' and its map values', then its rules."""
    if "$ref" in node:
        target = defs.get(node["$ref"].rsplit("/", 1)[-1], {})
        node = {**target, **node} if "enum" in target else node  # a model's limits are in its own section
    out: list[str] = []
    if "enum" in node:
        out.append("one of " + ", ".join(f"`{v}`" for v in node["enum"]))
    for key, text in (
        ("minimum", ">= {}"),
        ("exclusiveMinimum", "> {}"),
        ("maximum", "<= {}"),
        ("exclusiveMaximum", "< {}"),
        ("minLength", "length >= {}"),
        ("maxLength", "length <= {}"),
        ("minItems", "items >= {}"),
        ("maxItems", "items <= {}"),
        ("maxProperties", "keys <= {}"),
    ):
        if key in node:
            out.append(text.format(node[key]))
    if "pattern" in node and node["pattern"] not in FORMATS:
        out.append(f"pattern `{node['pattern']}`")
    for key, what in (("items", "each item"), ("additionalProperties", "each value")):
        inner = _constraints(node[key], defs) if isinstance(node.get(key), dict) else []
        if inner:
            out.append(f"{what}: " + ", ".join(inner))
    out.extend(f"rule: {r['message']}" for r in node.get("x-kubernetes-validations", []))
    return out


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # GitHub tables split cells on `|`, even inside code spans


def _section_markdown(section: Section) -> str:
    lines = [f"### `{section.path}`", "", section.description, ""]
    lines += [f"Rule: {rule.rstrip('.')}." for rule in section.rules]
    if section.rules:
        lines.append("")
    lines += ["| Field | Type | Default | Constraints | Description |", "|---|---|---|---|---|"]
    for f in section.fields:
        cells = [f"`{f.path}`", f.type, f.default, "; ".join(f.constraints), f.description]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


HEADER = f"""\
# ClickModel configuration reference

<!-- Generated by `clickcast reference` (`make docs`) from clickcast.api; do not edit by hand. -->

Every field of a `{KIND}` (`apiVersion: {API_VERSION}`), by its path as written in YAML
(camelCase). The same models generate the CRD (`manifests/crds/`) and check manifests offline
(`clickcast validate`); samples are in `manifests/samples/`.

- **Default**: `{REQUIRED}` must be set (when its parent object is set); `{UNSET}` is optional with no
  value; `{OBJECT_DEFAULT}` marks an object, which when omitted takes the defaults of its fields.
- **Types**: `duration` is a positive duration such as `30s`, `5m`, `1h30m` or `7d`; `quantity` is a
  Kubernetes resource quantity such as `500m`, `2` or `4Gi`; `cron` is a five-field cron expression (UTC)
  or a macro such as `@daily`. `[]` in a path is each item of an array.
- **Rule**: a rule across fields, checked by the API server (CEL) and by `clickcast validate`.
"""


def render_reference() -> str:
    """The whole of `docs/configuration.md`: the spec, then the status the operator writes."""
    parts = [HEADER, "## Spec\n", "What you write.\n"]
    parts += [_section_markdown(s) for s in sections(ClickModelSpec, "spec")]
    parts += ["## Status\n", "What the operator writes (read-only).\n"]
    parts += [_section_markdown(s) for s in sections(ClickModelStatus, "status")]
    return "\n".join(parts)
