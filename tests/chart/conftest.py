"""The chart tests' helm: the pinned binary hack/build-helm.sh builds (once) and caches.

No helm is a failure, not a skip: `make test` builds it (`make helm`), and a chart nobody linted
must not pass as green. The k8s fixtures (`kube`, `namespace`) are the operator tests' own.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.k8s.conftest import kube, namespace
from tests.manifests import ROOT

__all__ = ["CHART", "Helm", "helm", "kube", "namespace"]

CHART = ROOT / "charts" / "clickcast"
HA_VALUES = CHART / "ci" / "ha-namespaced-values.yaml"


@dataclass(frozen=True)
class Helm:
    binary: Path

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(self.binary), *args], capture_output=True, text=True, timeout=120, check=False)
        if check and done.returncode != 0:
            pytest.fail(f"helm {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def template(
        self, *args: str, release: str = "clickcast", namespace: str = "clickcast-system"
    ) -> list[dict[str, Any]]:
        out = self.run("template", release, str(CHART), "--namespace", namespace, *args).stdout
        return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="session")
def helm() -> Helm:
    done = subprocess.run(
        ["bash", str(ROOT / "hack" / "build-helm.sh")], capture_output=True, text=True, timeout=1800, check=False
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not Path(lines[-1]).is_file():
        pytest.fail(f"no helm binary (`make helm` builds it):\n{done.stderr[-3000:]}")
    return Helm(Path(lines[-1]))


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(docs, kind)
    assert len(found) == 1, f"{len(found)} {kind} objects"
    return found[0]
