"""`clickcast operator` hands its settings to the operator: CLICKCAST_GIT_CACHE too (the chart's emptyDir).

Its own store credentials: tests/store/test_operator_credentials.py reads MinIO with them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import fsspec.config
import kopf
import pytest
from typer.testing import CliRunner

from clickcast.api.images import Images
from clickcast.cli.main import app
from clickcast.operator.config import OperatorConfig
from clickcast.store import credentials

pytestmark = pytest.mark.unit


def test_git_cache_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    for key in OperatorConfig().to_env():  # the command exports its settings: undo that after the test
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(kopf, "run", lambda **kwargs: seen.update(kwargs))
    monkeypatch.setenv("CLICKCAST_GIT_CACHE", "/var/cache/clickcast/git")
    result = CliRunner().invoke(app, ["operator", "-n", "ads", "--log-format", "plain"])
    assert result.exit_code == 0, result.output
    assert seen["memo"].config.git_cache == "/var/cache/clickcast/git"
    assert seen["memo"].config.error_limit == 3
    monkeypatch.setenv("CLICKCAST_ERROR_LIMIT", "5")  # a setting of its own, not overwritten by the default
    assert CliRunner().invoke(app, ["operator", "-n", "ads", "--log-format", "plain"]).exit_code == 0
    assert seen["memo"].config.error_limit == 5
    assert seen["namespaces"] == ("ads",) and seen["clusterwide"] is False


def test_unreadable_store_options_stop_it_at_start_naming_the_variable_not_a_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in OperatorConfig().to_env():
        monkeypatch.delenv(key, raising=False)
    mounted = tmp_path / "storage"  # the chart's storeCredentialsSecret, mounted: a key without its secret
    mounted.mkdir()
    (mounted / "key").write_text("AKIA-only-a-key")
    monkeypatch.setenv(credentials.ENV, str(mounted))
    monkeypatch.setattr(fsspec.config, "conf", {})
    started: list[bool] = []
    monkeypatch.setattr(kopf, "run", lambda **_: started.append(True))
    result = CliRunner().invoke(app, ["operator", "-n", "ads", "--log-format", "plain"])
    assert result.exit_code == 2 and not started
    assert credentials.ENV in result.output and "both a key and a secret" in result.output
    assert "AKIA-only-a-key" not in result.output


def test_operator_images_come_from_the_environment_and_round_trip() -> None:
    released = Images.of()
    assert OperatorConfig.from_env({}).images == released == OperatorConfig().images
    team = Images.of("registry.example.com/team", "1.2")
    config = OperatorConfig.from_env({"CLICKCAST_JOBS_IMAGE": team.jobs, "CLICKCAST_SERVING_IMAGE": team.serving})
    assert config.images == team
    assert OperatorConfig.from_env({**config.to_env(), "POD_NAME": config.identity}) == config
    assert OperatorConfig.from_env({"CLICKCAST_JOBS_IMAGE": ""}).jobs_image == released.jobs, "empty: unset"


def test_the_command_hands_its_images_to_the_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    for key in OperatorConfig().to_env():
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(kopf, "run", lambda **kwargs: seen.update(kwargs))
    monkeypatch.setenv("CLICKCAST_SERVING_IMAGE", "registry.example.com/team/serving:1.2")
    args = ["operator", "-n", "ads", "--log-format", "plain", "--jobs-image", "registry.example.com/team/jobs:1.2"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert seen["memo"].config.images == Images.of("registry.example.com/team", "1.2")
    assert os.environ["CLICKCAST_JOBS_IMAGE"] == "registry.example.com/team/jobs:1.2", "kopf's process reads it back"
