"""The install scripts, as far as a machine without Docker can run them: they parse, shellcheck is clean,
and what `hack/kind-demo.sh` applies and sets exists (a valid ClickModel, values the chart's schema has)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from clickcast import __version__
from clickcast.api.images import DEFAULT_REGISTRY
from clickcast.cli.main import app
from tests.chart.conftest import CHART
from tests.manifests import ROOT

pytestmark = pytest.mark.chart

KIND_DEMO = ROOT / "hack" / "kind-demo.sh"
SCRIPTS = [
    KIND_DEMO,
    *(
        ROOT / "hack" / n
        for n in ("build-helm.sh", "sync-manifests.sh", "build-images.sh", "push-images.sh", "slim-venv.sh")
    ),
    ROOT / "jobs/entrypoint.sh",
]


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_script_parses_and_shellcheck_is_clean(script: Path) -> None:
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: `make shellcheck` installs it"
    done = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout


def test_kind_demo_applies_a_valid_clickmodel() -> None:
    text = KIND_DEMO.read_text()
    (sample,) = re.findall(r'SAMPLE="\$\{SAMPLE:-([^}]+)\}"', text)
    assert (ROOT / sample).is_file()
    result = CliRunner().invoke(app, ["validate", str(ROOT / sample)])
    assert result.exit_code == 0, result.output


def test_kind_demo_sets_only_values_the_chart_has() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    settings = re.findall(r"--set ([\w.]+)=", KIND_DEMO.read_text())
    assert {"images.registry", "images.tag"} <= set(settings)
    for dotted in settings:
        node = schema
        for part in dotted.split("."):
            assert part in node.get("properties", {}), f"kind-demo.sh sets {dotted}, which values.schema.json lacks"
            node = node["properties"][part]


def test_kind_demo_builds_and_loads_every_image() -> None:
    text = KIND_DEMO.read_text()
    (images,) = re.findall(r"IMAGES=\(([^)]*)\)", text)
    assert images.split() == ["operator", "jobs", "serving"]
    assert all((ROOT / image / "Dockerfile").is_file() for image in images.split())
    # Built by make images' script with Docker (every image of IMAGES), each then loaded into kind.
    assert 'ENGINE=docker BASE="$BASE"' in text and 'IMAGES="${IMAGES[*]}" bash hack/build-images.sh' in text
    assert 'kind load docker-image --name "$CLUSTER" "$REGISTRY/$image:$TAG"' in text
    build = (ROOT / "hack" / "build-images.sh").read_text()
    assert '"$ENGINE" build "${BUILD_FLAGS[@]}"' in build and '-f "$name/Dockerfile" -t "$image"' in build


def test_registry_and_tag_are_the_same_two_knobs_everywhere() -> None:
    """`make images REGISTRY=r TAG=t`, `make push REGISTRY=r` and `helm install --set images.registry=r` name
    the same images: the scripts default as the chart and the operator do (ghcr.io/clickcast, the version)."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert values["images"]["registry"] == DEFAULT_REGISTRY and not values["images"]["tag"]
    assert chart["appVersion"] == __version__, "images.tag defaults to the appVersion, the operator to __version__"
    tag_default = 'TAG="${TAG:-$(sed -n \'s/^version = "\\(.*\\)"/\\1/p\' pyproject.toml | head -n1)}"'
    for name in ("build-images.sh", "push-images.sh", "kind-demo.sh"):
        text = (ROOT / "hack" / name).read_text()
        assert tag_default in text, f"{name}: TAG defaults to pyproject's version"
        assert "$REGISTRY/$name:$TAG" in text or '"$REGISTRY/$image:$TAG"' in text, name
    for name in ("build-images.sh", "kind-demo.sh"):
        assert f'REGISTRY="${{REGISTRY:-{DEFAULT_REGISTRY}}}"' in (ROOT / "hack" / name).read_text(), name
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'\nversion = "{__version__}"\n' in pyproject
