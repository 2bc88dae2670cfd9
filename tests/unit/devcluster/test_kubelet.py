"""The workload runner's pure decisions: pod addresses, probes, restarts and the status they add up to."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from clickcast.api.images import Images
from clickcast.devcluster import images, kubelet, kwok
from clickcast.devcluster.kubelet import ContainerView, Probe, ProbeKind, ProbeState
from clickcast.devcluster.podrunner import image_repository, pod_kubeconfig, with_entrypoints

pytestmark = pytest.mark.unit
NOW, LATER = "2026-11-27T10:00:00Z", "2026-11-27T10:05:00Z"


def test_each_pod_gets_the_lowest_free_loopback_address() -> None:
    assert kubelet.next_address(set()) == "127.1.0.1"
    assert kubelet.next_address({"127.1.0.1", "127.1.0.3"}) == "127.1.0.2"
    assert kubelet.next_address({"127.0.0.1"}, "127.0.0.0/30") == "127.0.0.2"
    with pytest.raises(kubelet.AddressesExhausted):
        kubelet.next_address({"127.0.0.1", "127.0.0.2"}, "127.0.0.0/30")
    assert kubelet.in_network("127.1.4.2") and not kubelet.in_network("10.0.0.3")
    assert not kubelet.in_network(None) and not kubelet.in_network("not-an-ip")


def test_each_cluster_has_its_own_pod_network_off_127_0() -> None:
    networks = {kubelet.cluster_network(f"c{i}") for i in range(20)}
    assert len(networks) > 15 and "127.0.0.0/16" not in networks
    assert kubelet.cluster_network("clickcast") == kubelet.cluster_network("clickcast")


def test_a_cluster_never_takes_a_network_another_cluster_holds() -> None:
    own = kubelet.cluster_network("a")
    other = kubelet.cluster_network("a", taken={own})
    assert other not in (own, "127.0.0.0/16")
    every = {f"127.{i}.0.0/16" for i in range(1, 255)}
    assert kubelet.cluster_network("a", taken=every - {"127.7.0.0/16"}) == "127.7.0.0/16"
    with pytest.raises(kubelet.AddressesExhausted):
        kubelet.cluster_network("a", taken=every)


CONTAINER = {"name": "web", "ports": [{"name": "http", "containerPort": 3000}]}


@pytest.mark.parametrize(
    ("spec", "probe"),
    [
        ({"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5},
         Probe(ProbeKind.HTTP, port=3000, path="/readyz", period=5)),
        ({"tcpSocket": {"port": 8080}, "initialDelaySeconds": 2, "failureThreshold": 1},
         Probe(ProbeKind.TCP, port=8080, initial_delay=2, failure_threshold=1)),
        ({"exec": {"command": ["test", "-f", "/tmp/ok"]}, "successThreshold": 2},
         Probe(ProbeKind.EXEC, command=("test", "-f", "/tmp/ok"), success_threshold=2)),
    ],
    ids=["http-named-port", "tcp", "exec"],
)  # fmt: skip
def test_probes_are_read_with_kubernetes_defaults(spec: dict[str, object], probe: Probe) -> None:
    assert kubelet.parse_probe({**CONTAINER, "readinessProbe": spec}) == probe


def test_probes_without_a_declared_port_or_of_unknown_kinds_are_refused() -> None:
    assert kubelet.parse_probe(CONTAINER) is None
    with pytest.raises(kubelet.ProbeError, match="no port named 'metrics'"):
        kubelet.parse_probe({**CONTAINER, "readinessProbe": {"httpGet": {"port": "metrics"}}})
    with pytest.raises(kubelet.ProbeError, match="grpc"):
        kubelet.parse_probe({**CONTAINER, "readinessProbe": {"grpc": {"port": 1}, "periodSeconds": 1}})


@pytest.mark.parametrize(
    ("thresholds", "results", "ready"),
    [
        ((1, 3), [True], True),
        ((2, 3), [True], False),
        ((2, 3), [True, True], True),
        ((1, 3), [True, False, False], True),  # two failures of three: still ready
        ((1, 3), [True, False, False, False], False),
        ((1, 3), [False, False, False, False, True], True),
        ((1, 1), [True, False], False),
    ],
)
def test_readiness_flips_at_the_success_and_failure_thresholds(
    thresholds: tuple[int, int], results: list[bool], ready: bool
) -> None:
    probe = Probe(ProbeKind.TCP, port=1, success_threshold=thresholds[0], failure_threshold=thresholds[1])
    state = ProbeState()
    for result in results:
        state = state.observe(probe, result)
    assert state.ready is ready


def test_a_probe_runs_after_its_initial_delay_then_every_period() -> None:
    probe = Probe(ProbeKind.TCP, port=1, initial_delay=5, period=10)
    assert not kubelet.probe_due(probe, started=100, last=None, now=104)
    assert kubelet.probe_due(probe, started=100, last=None, now=105)
    assert not kubelet.probe_due(probe, started=100, last=105, now=114)
    assert kubelet.probe_due(probe, started=100, last=105, now=115)


@pytest.mark.parametrize(
    ("policy", "code", "restart"),
    [("Always", 0, True), ("Always", 1, True), ("OnFailure", 0, False), ("OnFailure", 2, True),
     ("Never", 1, False), ("Never", 0, False)],
)  # fmt: skip
def test_restart_policy(policy: str, code: int, restart: bool) -> None:
    assert kubelet.should_restart(policy, code) is restart


def test_crash_loop_backoff_doubles_up_to_five_minutes() -> None:
    assert [kubelet.backoff_seconds(n) for n in range(7)] == [10, 20, 40, 80, 160, 300, 300]


def _view(state: dict[str, object], ready: bool = False, restarts: int = 0) -> ContainerView:
    return ContainerView("web", "img", state, ready, restarts)


def _conditions(status: dict[str, object]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in status["conditions"]}  # type: ignore[attr-defined]


def test_a_running_pod_is_ready_only_when_every_container_is() -> None:
    run = kubelet.running(NOW)
    args = {"policy": "Always", "pod_ip": "127.1.0.9", "start_time": NOW, "now": NOW, "init": []}
    unready = kubelet.pod_status(**args, containers=[_view(run, True), _view(run, False)])  # type: ignore[arg-type]
    assert unready["phase"] == "Running" and unready["podIP"] == "127.1.0.9"
    assert unready["podIPs"] == [{"ip": "127.1.0.9"}] and unready["hostIP"] == kubelet.HOST_IP
    assert _conditions(unready) == {"PodScheduled": "True", "Initialized": "True", "ContainersReady": "False",
                                    "Ready": "False"}  # fmt: skip
    ready = kubelet.pod_status(**args | {"now": LATER, "previous": unready},  # type: ignore[arg-type]
                               containers=[_view(run, True), _view(run, True)])  # fmt: skip
    assert _conditions(ready)["Ready"] == "True" and ready["containerStatuses"][1]["ready"] is True
    times = {c["type"]: c["lastTransitionTime"] for c in ready["conditions"]}
    assert times == {"PodScheduled": NOW, "Initialized": NOW, "ContainersReady": LATER, "Ready": LATER}


def test_a_crash_looping_container_keeps_the_pod_running_with_its_restarts_counted() -> None:
    crashed = kubelet.terminated(1, NOW, LATER)
    view = ContainerView("web", "img", kubelet.waiting("CrashLoopBackOff"), False, 2, crashed)
    status = kubelet.pod_status(policy="Always", pod_ip="127.1.0.2", start_time=NOW, now=LATER, init=[],
                                containers=[view])  # fmt: skip
    assert status["phase"] == "Running" and _conditions(status)["Ready"] == "False"
    assert status["containerStatuses"][0]["restartCount"] == 2
    assert status["containerStatuses"][0]["lastState"]["terminated"]["exitCode"] == 1


@pytest.mark.parametrize(
    ("codes", "init_code", "phase"),
    [([0, 0], None, "Succeeded"), ([0, 3], None, "Failed"), ([], 1, "Failed"), ([0], 0, "Succeeded")],
)
def test_a_pod_whose_containers_will_not_run_again_succeeds_or_fails(
    codes: list[int], init_code: int | None, phase: str
) -> None:
    init = [] if init_code is None else [_view(kubelet.terminated(init_code, NOW, NOW))]
    main = [_view(kubelet.terminated(c, NOW, NOW)) for c in codes] or [_view(kubelet.waiting("PodInitializing"))]
    status = kubelet.pod_status(policy="Never", pod_ip="127.1.0.2", start_time=NOW, now=NOW, init=init,
                                containers=main)  # fmt: skip
    assert status["phase"] == phase and _conditions(status)["Ready"] == "False"


def test_a_pod_not_started_yet_is_pending() -> None:
    status = kubelet.pod_status(policy="Always", pod_ip="127.1.0.2", start_time=NOW, now=NOW, init=[],
                                containers=[_view(kubelet.waiting("PodInitializing"))])  # fmt: skip
    assert status["phase"] == "Pending"


def test_status_changes_are_compared_without_their_timestamps() -> None:
    a = {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": NOW}]}
    b = {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": LATER}]}
    assert kubelet.without_times(a) == kubelet.without_times(b)


def test_the_checkout_runs_the_three_images_of_any_tag(tmp_path: Path) -> None:
    table = images.checkout(tmp_path / "repo", tmp_path / "venv", {"PATH": "/usr/bin"})
    pod = {"spec": {"containers": [
        {"name": "serving", "image": "ghcr.io/clickcast/serving:0.1.0"},
        {"name": "exec", "image": "ghcr.io/clickcast/jobs@sha256:abc", "args": ["executor"]},
        {"name": "op", "image": "ghcr.io/clickcast/operator:dev", "command": ["clickcast", "operator"]},
    ]}}  # fmt: skip
    serving, executor, operator = with_entrypoints(pod, table.entrypoints)["spec"]["containers"]
    assert serving["command"] == [str(tmp_path / "venv/bin/bentoml"), "serve",
                                  "clickcast.serving.service:ClickcastService"]  # fmt: skip
    assert executor["command"] == ["bash", str(tmp_path / "repo/jobs/entrypoint.sh")]
    assert operator["command"] == ["clickcast", "operator"]  # a command given is kept
    assert table.paths["/opt/clickcast/jobs"] == tmp_path / "repo/jobs"
    assert table.env["PATH"] == f"{tmp_path / 'venv/bin'}:/usr/bin"
    assert image_repository("localhost:5000/a/b:1") == "localhost:5000/a/b" and image_repository("b") == "b"


def test_a_pod_kubeconfig_holds_only_its_token_file() -> None:
    config = pod_kubeconfig("https://127.0.0.1:6443", "/ca.crt", Path("/pods/p/token"), "ads")
    assert config["users"] == [{"name": "pod", "user": {"tokenFile": "/pods/p/token"}}]
    assert config["contexts"][0]["context"]["namespace"] == "ads"
    assert config["clusters"][0]["cluster"] == {"server": "https://127.0.0.1:6443", "certificate-authority": "/ca.crt"}


def test_with_the_workload_runner_kwok_leaves_pod_status_alone() -> None:
    names = [s["metadata"]["name"] for s in yaml.safe_load_all(kwok.stages(workloads=True))]
    assert kwok.POD_RUNNING_STAGE not in names and "clickcast-pod-delete" in names
    assert kwok.POD_RUNNING_STAGE in [s["metadata"]["name"] for s in yaml.safe_load_all(kwok.stages())]


def test_the_image_table_names_the_images_the_operator_defaults_to() -> None:
    table = images.checkout(Path("/repo"), Path("/venv"), {})
    defaults = Images.of()
    assert {image_repository(defaults.jobs), image_repository(defaults.serving)} <= table.entrypoints.keys()
