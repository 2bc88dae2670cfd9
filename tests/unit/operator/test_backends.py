"""The training-backend registry: every backend the API offers is registered, an unknown one is an error (no
fallback), each builds its own kind, reads its own state, and the RBAC manifests grant its rules."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from clickcast.api.images import Images, resolve_images
from clickcast.api.spec import TrainingBackend
from clickcast.core.observed import RunState
from clickcast.operator import backends
from tests.manifests import MINIMAL, ROOT
from tests.unit.core.core_world import spec

pytestmark = pytest.mark.unit


def test_every_backend_of_the_api_is_registered_and_an_unknown_one_raises() -> None:
    assert set(backends.BACKENDS) == set(TrainingBackend)
    with pytest.raises(backends.UnknownBackend, match="no training backend 'flink'"):
        backends.backend("flink")


@pytest.mark.parametrize("name", list(TrainingBackend))
def test_each_backend_builds_its_kind_and_reads_its_state(name: TrainingBackend) -> None:
    b = backends.backend(name)
    images = Images.of("registry.example.com/team", "1.2")
    doc = b.build(name="offers-train-v2", namespace="ads", model="offers", version="v2",
                  spec=resolve_images(spec(), images), owner=[], reference=None, jobs_dir="/jobs")  # fmt: skip
    assert (doc["apiVersion"], doc["kind"]) == (b.api_version, b.kind)
    assert f"'image': '{images.jobs}'" in str(doc), "the run's pods run the resolved jobs image"
    assert doc["metadata"]["labels"]["clickcast.io/model"] == "offers", "the watch finds it by this label"
    assert b.state(None, []).state is RunState.MISSING
    assert b.state(doc, []).state is RunState.RUNNING
    assert b.watched.group == b.api_version.rpartition("/")[0] and b.watched.plural == f"{b.kind.lower()}s"


def _rules(path: str) -> list[dict[str, Any]]:
    docs = yaml.safe_load_all((ROOT / "manifests" / "rbac" / path).read_text())
    return next(d for d in docs if d and d["kind"] in ("ClusterRole", "Role"))["rules"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", ["operator.yaml", "operator-namespaced.yaml"])
def test_the_rbac_manifests_grant_each_backends_rules(path: str) -> None:
    granted = _rules(path)
    for b in backends.BACKENDS.values():
        for rule in b.rules:
            assert rule in granted, f"{path} lacks {b.kind}'s rule {rule}"


def test_minimal_sample_uses_the_default_backend() -> None:
    assert backends.backend(MINIMAL["spec"].get("training", {}).get("backend", "job")) is backends.JOB
