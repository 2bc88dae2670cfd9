"""The workload runner's pod network for Python servers: wildcard binds take the pod's own address."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from clickcast.devcluster.podrunner import POD_IP_ENV, PODNET, SERVICES_ENV
from clickcast.devcluster.services import service_table

BIND = """
import socket, sys
family = socket.AF_INET6 if sys.argv[1].startswith(":") else socket.AF_INET
with socket.socket(family) as s:
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((sys.argv[1], 0))
    print(s.getsockname()[0])
"""


def _bound(host: str, pod_ip: str | None) -> str:
    env = {**os.environ, "PYTHONPATH": str(PODNET)}
    env.pop(POD_IP_ENV, None)
    if pod_ip is not None:
        env[POD_IP_ENV] = pod_ip
    done = subprocess.run([sys.executable, "-c", BIND, host], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.parametrize(("host", "expected"), [("0.0.0.0", "127.9.8.7"), ("", "127.9.8.7"),
                                                ("::", "::ffff:127.9.8.7")])  # fmt: skip
def test_a_wildcard_bind_takes_the_pods_address(host: str, expected: str) -> None:
    assert _bound(host, "127.9.8.7") == expected


def test_explicit_addresses_and_processes_outside_a_pod_are_left_alone() -> None:
    assert _bound("127.0.0.1", "127.9.8.7") == "127.0.0.1"
    assert _bound("0.0.0.0", None) == "0.0.0.0"


def _pod(name: str, ns: str, labels: dict[str, str], port: int = 3000) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": port}]}]}}  # fmt: skip


def _service(name: str, ns: str, selector: dict[str, str], ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"selector": selector, "ports": ports}}


def test_the_service_table_sends_each_service_port_to_the_ready_pods_it_selects() -> None:
    ready = [
        (_pod("a", "ads", {"app": "web", "v": "1"}), "127.1.0.2"),
        (_pod("b", "ads", {"app": "web"}), "127.1.0.3"),
        (_pod("c", "other", {"app": "web"}), "127.1.0.4"),
        (_pod("d", "ads", {"app": "db"}, 5432), "127.1.0.5"),
    ]
    svcs = [_service("web", "ads", {"app": "web"}, [{"port": 80, "targetPort": "http"}, {"port": 81, "targetPort": 9}]),
            _service("db", "ads", {"app": "db"}, [{"port": 5432}, {"port": 53, "protocol": "UDP"}]),
            _service("none", "ads", {}, [{"port": 80}]),
            {"metadata": {"name": "ext", "namespace": "ads"}, "spec": {"type": "ExternalName"}},
            _service("kubernetes", "default", {}, [{"port": 443, "targetPort": 6443}])]  # fmt: skip
    table = service_table(svcs, ready, ("127.0.0.1", 6443))
    assert table == {
        "kubernetes.default": {"443": [("127.0.0.1", 6443)]},
        "web.ads": {"80": [("127.1.0.2", 3000), ("127.1.0.3", 3000)], "81": [("127.1.0.2", 9), ("127.1.0.3", 9)]},
        "db.ads": {"5432": [("127.1.0.5", 5432)]},  # UDP is not served
        # "none" and the API server's own Service have no selector: their endpoints are kept by hand.
    }


@pytest.mark.parametrize(("host", "port", "expected"), [
    ("web", 80, ("127.1.0.2", 3000)), ("web.ads", "80", ("127.1.0.2", 3000)),
    ("web.ads.svc", 80, ("127.1.0.2", 3000)), ("web.ads.svc.cluster.local.", 80, ("127.1.0.2", 3000)),
    (b"web.ads.svc", 80, ("127.1.0.2", 3000)),
    ("web.other.svc", 80, None), ("web", 81, None), ("example.com", 80, None), ("127.0.0.1", 80, None),
    ("web", None, None),
])  # fmt: skip
def test_service_names_resolve_as_a_pods_dns_would(
    tmp_path: Path, host: str | bytes, port: int | str | None, expected: tuple[str, int] | None
) -> None:
    from clickcast.devcluster.podnet.sitecustomize import service_endpoint

    table = tmp_path / "services.json"
    table.write_text(json.dumps({"web.ads": {"80": [["127.1.0.2", 3000]]}}))
    assert service_endpoint(str(table), "ads", host, port) == expected
    assert service_endpoint(str(tmp_path / "missing.json"), "ads", host, port) is None


def test_a_pods_python_connects_to_a_service_by_name(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        table = tmp_path / "services.json"
        table.write_text(json.dumps({"web.ads": {"80": [["127.0.0.1", server.getsockname()[1]]]}}))
        env = {**os.environ, "PYTHONPATH": str(PODNET), SERVICES_ENV: str(table), "CLICKCAST_POD": "ads/client"}
        client = "import socket; socket.create_connection(('web', 80), timeout=5).sendall(b'hello')"
        done = subprocess.Popen([sys.executable, "-c", client], env=env)
        conn, _ = server.accept()
        with conn:
            assert conn.recv(5) == b"hello"
        assert done.wait(timeout=30) == 0


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_an_event_loop_resolves_a_service_by_name(tmp_path: Path, loop: str) -> None:
    table = tmp_path / "services.json"
    table.write_text(json.dumps({"web.ads": {"80": [["127.1.0.2", 3000]]}}))
    env = {**os.environ, "PYTHONPATH": str(PODNET), SERVICES_ENV: str(table), "CLICKCAST_POD": "ads/client"}
    code = f"""
import asyncio, socket{", uvloop" if loop == "uvloop" else ""}
async def main():
    found = await asyncio.get_running_loop().getaddrinfo("web.ads.svc", 80, type=socket.SOCK_STREAM)
    print(found[0][4], type(asyncio.get_running_loop()).__module__)
{"uvloop.run" if loop == "uvloop" else "asyncio.run"}(main())
"""
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    address, module = done.stdout.split(") ")
    assert address + ")" == "('127.1.0.2', 3000)" and module.startswith(loop), done.stdout


def test_the_serving_shadow_client_reaches_a_service_by_name(tmp_path: Path) -> None:
    """httpx on uvloop, as the stable pods mirror to the canary's Service (anyio passes the host as bytes)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        table = tmp_path / "services.json"
        port = server.server_address[1]  # anyio keeps the port it asked for: Service port = target port here
        table.write_text(json.dumps({"canary.ads": {str(port): [["127.0.0.1", port]]}}))
        env = {**os.environ, "PYTHONPATH": str(PODNET), SERVICES_ENV: str(table), "CLICKCAST_POD": "ads/stable"}
        code = f"""
import httpx, uvloop
async def main():
    async with httpx.AsyncClient() as client:
        print((await client.get("http://canary.ads.svc:{port}/")).status_code)
uvloop.run(main())
"""
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30,
                              cwd=tmp_path, check=False)  # fmt: skip
        assert done.stdout.strip() == "200", done.stderr[-2000:]
    finally:
        server.shutdown()
