"""Behaviour of the API models beyond single-field checks."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from clickcast.api import ClickModel, ClickModelSpec, Phase
from clickcast.api.crd import PRINTER_COLUMNS
from clickcast.api.duration import parse_duration
from clickcast.api.spec import Canary, CanaryMode
from clickcast.api.status import ClickModelStatus, Metrics, ModelVersionStatus
from tests.manifests import MINIMAL

pytestmark = pytest.mark.unit


def test_minimal_spec_gets_working_defaults() -> None:
    spec = ClickModelSpec.model_validate(MINIMAL["spec"])
    assert spec.algorithm.name == "xgboost" and spec.algorithm.objective == "poisson"
    assert spec.canary.steps == [10, 25, 50] and spec.canary.mode is CanaryMode.SPLIT
    assert spec.features.categorical == ["categoryId", "merchantId", "category", "device"]
    assert spec.training.schedule is None and spec.promotion.gitops is None


def test_wire_format_is_camel_case_and_round_trips() -> None:
    model = ClickModel.model_validate(MINIMAL)
    wire = model.to_wire()
    assert "dateColumn" in wire["spec"]["data"] and "date_column" not in wire["spec"]["data"]
    assert ClickModel.model_validate(wire) == model


def test_status_defaults_to_pending() -> None:
    assert ClickModelStatus().phase is Phase.PENDING


@given(st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=10))
def test_steps_accepted_iff_strictly_ascending(steps: list[int]) -> None:
    ascending = all(b > a for a, b in pairwise(steps))
    try:
        Canary(steps=steps)
    except ValidationError:
        assert not ascending
    else:
        assert ascending


def test_shadow_mode_needs_no_steps() -> None:
    assert Canary(mode=CanaryMode.SHADOW, steps=[]).steps == []


@given(st.integers(0, 500), st.integers(0, 59), st.integers(1, 59))
def test_duration_parses_compound_values(h: int, m: int, s: int) -> None:
    assert parse_duration(f"{h}h{m}m{s}s") == timedelta(hours=h, minutes=m, seconds=s)


@pytest.mark.parametrize("text", ["", "10", "1.5h", "h", "10 m", "-5m"])
def test_duration_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_kubectl_get_prints_the_deviance_rounded() -> None:
    v = ModelVersionStatus(version="v1", metrics=Metrics(poisson_deviance=1.6735362725088827))
    assert v.deviance == 1.6735 and v.to_wire()["deviance"] == 1.6735
    assert ModelVersionStatus.model_validate(v.to_wire()) == v, "the rounded copy round-trips"
    assert ModelVersionStatus(version="v1").deviance is None
    paths = {c["name"]: c["jsonPath"] for c in PRINTER_COLUMNS}
    assert paths["Deviance"] == ".status.stable.deviance"
    assert paths["Candidate Deviance"] == ".status.candidate.deviance"
