"""`clickcast validate`: samples pass, each invalid variant fails naming its field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from clickcast.cli.main import app
from tests.manifests import INVALID, SAMPLES, Invalid, build

pytestmark = pytest.mark.unit
runner = CliRunner()


def test_samples_are_valid() -> None:
    result = runner.invoke(app, ["validate", *map(str, SAMPLES)])
    assert result.exit_code == 0, result.output
    assert len(SAMPLES) >= 2


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.id)
def test_invalid_variant_names_the_field(case: Invalid, tmp_path: Path) -> None:
    path = tmp_path / f"{case.id}.yaml"
    path.write_text(yaml.safe_dump(build(case)))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: {case.field}: "), lines[0]


def test_several_documents_are_checked_each(tmp_path: Path) -> None:
    good, bad = build(INVALID[0]), build(INVALID[1])
    good["spec"]["serving"]["replicas"] = 1
    path = tmp_path / "multi.yaml"
    path.write_text(yaml.safe_dump_all([good, bad]))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}[doc 2]: spec.canary.mode" in result.stderr
    assert "doc 1" not in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [("spec: [unclosed", "invalid YAML"), ("", "no YAML document"), ("- a\n- b\n", "expected a mapping")],
    ids=["syntax", "empty", "list"],
)
def test_malformed_files_get_one_line(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert expected in result.stderr


def test_missing_file_is_a_one_line_error_not_a_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "clickcast.cli.main", "validate", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert "nope.yaml" in proc.stderr
