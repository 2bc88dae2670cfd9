"""The pod runner's pure parts: how a pod becomes local processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickcast.devcluster.jobrunner import JobRunnerError
from clickcast.devcluster.podrunner import image_path_rewriter, reachable, token_paths, with_entrypoints

pytestmark = pytest.mark.unit

EXECUTOR = {
    "metadata": {"name": "app-exec-1", "namespace": "ns", "uid": "u1"},
    "spec": {
        "containers": [{"name": "spark-kubernetes-executor", "image": "jobs:1", "args": ["executor"]}],
        "volumes": [{"name": "kube-api-access-x", "projected": {"sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        ]}}],
    },
    "status": {"phase": "Running", "podIP": "10.0.0.7", "podIPs": [{"ip": "10.0.0.7"}]},
}  # fmt: skip


def test_a_container_without_command_runs_its_image_entrypoint_with_its_args() -> None:
    pod = with_entrypoints(EXECUTOR, {"jobs:1": ["bash", "/repo/jobs/entrypoint.sh"]})
    container = pod["spec"]["containers"][0]
    assert container["command"] == ["bash", "/repo/jobs/entrypoint.sh"] and container["args"] == ["executor"]
    assert "command" not in EXECUTOR["spec"]["containers"][0]  # the input is left alone
    with pytest.raises(JobRunnerError, match="no local entrypoint"):
        with_entrypoints(EXECUTOR, {})


def test_local_pods_are_reached_on_loopback_and_get_their_token_path() -> None:
    local = reachable(EXECUTOR)
    assert local["status"]["podIP"] == "127.0.0.1" and local["status"]["podIPs"] == [{"ip": "127.0.0.1"}]
    assert token_paths(EXECUTOR) == {"kube-api-access-x": ("token", 3607, None)}


def test_paths_baked_into_an_image_map_to_local_directories() -> None:
    rewrite = image_path_rewriter({"/opt/clickcast/jobs": Path("/repo/jobs")})
    assert rewrite("/opt/clickcast/jobs/train.py") == "/repo/jobs/train.py"
    assert rewrite("--x=/opt/clickcast/jobsx/a") == "--x=/opt/clickcast/jobsx/a"  # whole path components only
    assert image_path_rewriter({})("/opt/a") == "/opt/a"
