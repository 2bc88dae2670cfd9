"""`clickcast dev cluster status|kubeconfig` against the session's running cluster."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from clickcast.cli.main import app
from tests.k8s.conftest import Kube

pytestmark = pytest.mark.k8s
runner = CliRunner()


@pytest.fixture
def name(kube: Kube) -> str:
    if kube.name is None:
        pytest.skip("the session uses CLICKCAST_TEST_KUBECONFIG, not a kwok cluster")
    return kube.name


def test_status_and_kubeconfig_of_a_running_cluster(kube: Kube, name: str) -> None:
    status = runner.invoke(app, ["dev", "cluster", "status", "--name", name])
    assert status.exit_code == 0, status.output
    assert f"cluster {name}: ready (ok)" in status.stdout

    path = runner.invoke(app, ["dev", "cluster", "kubeconfig", "--name", name])
    assert path.exit_code == 0
    assert path.stdout.strip() == str(kube.kubeconfig)


def test_up_on_a_running_cluster_is_a_no_op(kube: Kube, name: str) -> None:
    result = runner.invoke(app, ["dev", "cluster", "up", "--name", name])
    assert result.exit_code == 0, result.output
    assert "already running" in result.stderr
    assert result.stdout.strip() == str(kube.kubeconfig)


def test_status_of_a_missing_cluster_fails_in_one_line(kube: Kube, name: str) -> None:
    result = runner.invoke(app, ["dev", "cluster", "status", "--name", f"{name}-nope"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: no cluster named {name}-nope (start it with `clickcast dev cluster up --name {name}-nope`)"
    ]
