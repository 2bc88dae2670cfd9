"""The configuration reference is generated from the models, committed, complete, and says what they say."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from clickcast.api import ClickModelSpec, ClickModelStatus
from clickcast.api.crd import custom_resource_definition
from clickcast.api.reference import FieldDoc, anchor, render_reference, sections
from clickcast.cli.main import app
from tests.manifests import ROOT

pytestmark = pytest.mark.unit
COMMITTED = ROOT / "docs" / "configuration.md"
SPEC = {f.path: f for s in sections(ClickModelSpec, "spec") for f in s.fields}


def _crd_paths(node: dict[str, Any], path: str) -> set[str]:
    """Every field path the CRD's structural schema has below `path`."""
    out = set()
    for name, prop in node.get("properties", {}).items():
        out.add(f"{path}.{name}")
        out |= _crd_paths(prop, f"{path}.{name}")
    if "items" in node:
        out |= _crd_paths(node["items"], f"{path}[]")
    return out


def test_committed_reference_is_the_generated_one() -> None:
    assert COMMITTED.is_file(), "docs/configuration.md is missing: run `make docs`"
    assert COMMITTED.read_text() == render_reference(), "run `make docs` and commit docs/configuration.md"


@pytest.mark.parametrize(("root", "model"), [("spec", ClickModelSpec), ("status", ClickModelStatus)])
def test_every_crd_field_is_in_the_reference(root: str, model: Any) -> None:
    schema = custom_resource_definition()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"][root]
    documented = {f.path for s in sections(model, root) for f in s.fields}
    assert documented == _crd_paths(schema, root)
    assert all(f.description for s in sections(model, root) for f in s.fields)


def test_a_nested_field_has_its_path_type_default_limits_and_description() -> None:
    assert SPEC["spec.training.executors.instances"] == FieldDoc(
        path="spec.training.executors.instances",
        type="integer",
        default="`2`",
        constraints=(">= 1", "<= 1000"),
        description="Number of executors.",
    )
    assert SPEC["spec.training.executors"].type == "[object](#spectrainingexecutors)"
    assert SPEC["spec.canary.gateway.parentRefs[].name"].default == "required"


def test_a_parents_default_overrides_the_nested_models_own() -> None:
    # Serving's default resources are Resources(memory="1Gi"); the model's own default is 2Gi.
    assert SPEC["spec.serving.resources.memory"].default == '`"1Gi"`'
    assert SPEC["spec.training.driver.memory"].default == '`"2Gi"`'


def test_enums_list_their_values() -> None:
    assert SPEC["spec.training.backend"].type == "string (enum)"
    assert SPEC["spec.training.backend"].constraints == ("one of `job`, `sparkApplication`",)
    assert SPEC["spec.features.dateFeatures"].constraints == (
        "items <= 8",
        "each item: one of `dayOfWeek`, `dayOfMonth`, `month`, `weekOfYear`, `isWeekend`",
    )


def test_required_unset_formats_and_rules() -> None:
    assert SPEC["spec.data.url"].default == "required"
    assert SPEC["spec.scoring"].default == "unset"
    assert SPEC["spec.training.timeout"].type == "string (duration)"
    assert SPEC["spec.training.schedule"].type == "string (cron)"
    steps = SPEC["spec.canary.steps"].constraints
    assert "rule: canary steps must be strictly ascending weights within 1..100" in steps
    by_path = {s.path: s for s in sections(ClickModelSpec, "spec")}
    assert by_path["spec.validation.absolute"].rules == ("minCalibration must be less than maxCalibration",)


def test_markdown_tables_are_well_formed_and_links_resolve() -> None:
    text = render_reference()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == len(SPEC) + sum(len(s.fields) for s in sections(ClickModelStatus, "status"))
    for row in rows:  # five cells: every `|` inside a cell (patterns) is escaped
        assert len(re.findall(r"(?<!\\)\|", row)) == 6, row
    assert r"`^([a-z][a-z0-9+.-]*://\|/).+`" in text
    headings = [anchor(h) for h in re.findall(r"^### `([^`]+)`$", text, flags=re.MULTILINE)]
    assert len(headings) == len(set(headings))
    assert set(re.findall(r"\(#([a-z0-9_-]+)\)", text)) <= set(headings)


def test_reference_command_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "docs" / "configuration.md"
    result = CliRunner().invoke(app, ["reference", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == render_reference()
