"""`clickcast operator` hands its settings to the operator: CLICKCAST_GIT_CACHE too (the chart's emptyDir)."""

from __future__ import annotations

from typing import Any

import kopf
import pytest
from typer.testing import CliRunner

from clickcast.cli.main import app
from clickcast.operator.config import OperatorConfig

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
    assert seen["namespaces"] == ("ads",) and seen["clusterwide"] is False
