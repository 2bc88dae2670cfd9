"""The CRD is generated from the models, committed, structural, and agrees with them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from clickcast.api import ClickModelSpec
from clickcast.api.crd import custom_resource_definition
from clickcast.cli.manifests import render_crd
from tests.manifests import MINIMAL, ROOT

pytestmark = pytest.mark.unit
COMMITTED = ROOT / "manifests" / "crds" / "clickcast.io_clickmodels.yaml"


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = []
    if isinstance(node, dict):
        out.append((path, node))
        for key, value in node.items():
            out.extend(_walk(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_walk(value, f"{path}[{i}]"))
    return out


def _version() -> dict[str, Any]:
    return custom_resource_definition()["spec"]["versions"][0]  # type: ignore[no-any-return]


def test_committed_crd_is_the_generated_one() -> None:
    assert COMMITTED.read_text() == render_crd(), "run `make crd` and commit manifests/crds/"


def test_schema_is_structural() -> None:
    schema = _version()["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert not {"$ref", "anyOf", "oneOf", "allOf", "title", "$defs", "const"} & node.keys(), path
        if "properties" in node:
            assert node.get("type") == "object", path
            assert "additionalProperties" not in node, path
        for bound in ("exclusiveMinimum", "exclusiveMaximum"):
            assert node.get(bound, True) is True, f"{path}: {bound} must be boolean in OpenAPI v3"


def test_every_spec_field_is_documented() -> None:
    spec = _version()["schema"]["openAPIV3Schema"]["properties"]["spec"]
    undocumented = [
        f"{path}/{name}"
        for path, node in _walk(spec)
        if "properties" in node
        for name, prop in node["properties"].items()
        if not prop.get("description")
    ]
    assert undocumented == []


def test_printer_columns_and_names() -> None:
    crd = custom_resource_definition()
    columns = {c["name"]: c["jsonPath"] for c in _version()["additionalPrinterColumns"]}
    assert columns["Phase"] == ".status.phase"
    assert {"Stable", "Candidate", "Canary", "Deviance", "Age"} <= columns.keys()
    assert "cm" not in crd["spec"]["names"]["shortNames"]  # configmaps
    assert _version()["subresources"] == {"status": {}}


def test_cel_rules_cover_the_cross_field_rules() -> None:
    rules = {
        path: [r["rule"] for r in node["x-kubernetes-validations"]]
        for path, node in _walk(_version()["schema"])
        if "x-kubernetes-validations" in node
    }
    joined = " ".join(r for rs in rules.values() for r in rs)
    assert "isSorted()" in joined  # canary weights ascending
    assert "minCalibration < self.maxCalibration" in joined
    assert "approvedVersion" in joined
    assert "autoRetrain" in joined
    assert any(p.endswith("/canary/properties/steps") for p in rules)


def _apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Kubernetes' structural defaulting: fill absent properties that have a default, recursively."""
    if isinstance(value, dict) and "properties" in schema:
        for name, prop in schema["properties"].items():
            if name not in value and "default" in prop:
                value[name] = copy.deepcopy(prop["default"])
            if name in value:
                value[name] = _apply_defaults(prop, value[name])
    elif isinstance(value, list) and "items" in schema:
        value = [_apply_defaults(schema["items"], v) for v in value]
    return value


def test_api_server_defaulting_matches_pydantic_defaults() -> None:
    schema = _version()["schema"]["openAPIV3Schema"]["properties"]["spec"]
    defaulted = _apply_defaults(schema, copy.deepcopy(MINIMAL["spec"]))
    assert defaulted == ClickModelSpec.model_validate(MINIMAL["spec"]).to_wire()


def test_crd_command_prints_the_crd(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from clickcast.cli.main import app

    out = tmp_path / "crd.yaml"
    result = CliRunner().invoke(app, ["crd", "-o", str(out)])
    assert result.exit_code == 0
    assert yaml.safe_load(out.read_text())["metadata"]["name"] == "clickmodels.clickcast.io"
