"""Readiness, durable prediction logging across SIGTERM, and shadow mirroring, with served processes."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from clickcast.model.artifact import MODEL_FILE
from clickcast.store.artifacts import load_version
from tests.serving.conftest import Served, free_port
from tests.serving.model import publish_model
from tests.serving.test_http import OFFER, offers

pytestmark = pytest.mark.e2e


def read_log(url_path: Path) -> pa.Table:
    files = sorted(str(p) for p in url_path.rglob("part-*.parquet"))
    assert all(re.search(r"date=\d{4}-\d{2}-\d{2}/part-\d+-[0-9a-f]+-\d+\.parquet$", f) for f in files), files
    return ds.dataset(files, format="parquet").to_table() if files else pa.table({})


def test_corrupt_missing_or_unpinned_artifact_keeps_the_service_unready(
    serve: type[Served], store: Path, tmp_path: Path, model_uri: str, candidate_uri: str
) -> None:
    uri = publish_model(f"file://{store}", version="v-corrupt")
    model_file = store / "models" / "offers" / "v-corrupt" / MODEL_FILE
    model_file.write_bytes(model_file.read_bytes().replace(b"count:poisson", b"count:poissoN"))
    corrupt = serve(uri, tmp_path)
    missing = serve(f"file://{store}/models/offers/v-missing", tmp_path)
    # An intact version, but not the bytes the operator validated: pinned to another version's manifest.
    other_sha = load_version(candidate_uri).manifest_sha256
    unpinned = serve(model_uri, tmp_path, "--sha256", other_sha)
    cases = ((corrupt, "checksum mismatch", "v-corrupt"), (missing, "no model version", "v-missing"),
             (unpinned, f"does not match the expected {other_sha}", "v1"))  # fmt: skip
    for served, reason, version in cases:
        served.wait_live()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # stays unready, not just slow to start
            r = httpx.get(f"{served.url}/readyz", timeout=2)
            assert r.status_code == 503
            time.sleep(0.3)
        assert httpx.post(f"{served.url}/predict", json=OFFER, timeout=2).status_code == 503
        lines = [line for line in served.output.splitlines() if "NOT READY" in line]
        assert len(lines) == 1, served.output
        assert served.proc.poll() is None  # up, so Kubernetes sees it unready rather than crash-looping
        assert reason in lines[0]
        assert f"/{version}" in lines[0]


async def _load(url: str, stop_after: float, results: list[str]) -> int:
    """Concurrent single-offer requests until the server goes away; successful request ids go to `results`."""
    rows = offers(64, seed=5)
    failures = 0
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:

        async def user(k: int) -> None:
            nonlocal failures
            i = 0
            deadline = time.monotonic() + stop_after
            while time.monotonic() < deadline:
                i += 1
                rid = f"u{k}-{i}"
                try:
                    r = await client.post("/predict", json={**rows[i % len(rows)], "requestId": rid})
                except httpx.HTTPError:
                    failures += 1
                    await asyncio.sleep(0.05)
                    if failures > 200:
                        return
                    continue
                if r.status_code == 200:
                    results.append(r.json()["requestId"])

        await asyncio.gather(*(user(k) for k in range(8)))
    return failures


def test_sigterm_during_load_loses_no_logged_prediction(serve: type[Served], model_uri: str, tmp_path: Path) -> None:
    log_dir = tmp_path / "log"
    served = serve(model_uri, tmp_path, "--prediction-log", f"file://{log_dir}", "--flush-interval", "1h")
    served.wait_ready()
    results: list[str] = []

    async def scenario() -> None:
        load = asyncio.create_task(_load(served.url, 8.0, results))
        await asyncio.sleep(1.5)
        served.proc.send_signal(15)
        await load

    asyncio.run(scenario())
    assert served.terminate() == 0 or served.proc.returncode is not None
    table = read_log(log_dir)
    logged = table.column("request_id").to_pylist()
    assert len(results) > 50, "the load did not get going"
    assert len(set(logged)) == len(logged)
    assert set(results) <= set(logged)
    assert len(logged) == len(results), (len(logged), len(results))
    assert set(table.column("role").to_pylist()) == {"stable"}


def test_shadow_mirroring_logs_both_roles(
    serve: type[Served], model_uri: str, candidate_uri: str, tmp_path: Path
) -> None:
    log_url = f"file://{tmp_path}/log"
    token = {"MIRROR_TOKEN": "release-token-0123456789abcdef"}
    candidate = serve(candidate_uri, tmp_path, "--role", "canary", "--prediction-log", log_url, env=token)
    candidate.wait_ready()
    primary = serve(model_uri, tmp_path, "--prediction-log", log_url, "--shadow", candidate.url, env=token)
    primary.wait_ready()
    rows = offers(20, seed=9)
    with httpx.Client(base_url=primary.url, timeout=10) as client:
        ids = [client.post("/predict", json=row).json()["requestId"] for row in rows[:15]]
        r = client.post("/predict/batch", json={"offers": rows[15:], "requestId": "b1"})
        assert r.status_code == 200
        deadline = time.monotonic() + 10
        while 'clickcast_shadow_mirror_total{outcome="sent"} 16.0' not in client.get("/metrics").text:
            assert time.monotonic() < deadline, client.get("/metrics").text
            time.sleep(0.2)
    # A client posing as the mirror (to relabel its request as a shadow prediction of a stable request's id) is
    # refused; without the header it is the canary's own request.
    with httpx.Client(base_url=candidate.url, timeout=10) as client:
        for forged in ("1", "release-token-0123456789abcdeX"):
            r = client.post("/predict", json=rows[0], headers={"x-clickcast-mirror": forged, "x-request-id": ids[0]})
            assert r.status_code == 403 and "mirror token" in r.json()["error"], r.text
        assert client.post("/predict", json=rows[0]).json()["role"] == "canary"
    assert primary.terminate() == 0
    assert candidate.terminate() == 0
    table = read_log(tmp_path / "log").to_pandas()
    stable, shadow = table[table.role == "stable"], table[table.role == "shadow"]
    assert len(stable) == len(shadow) == 20  # nothing forged among them
    assert set(stable.request_id) == set(shadow.request_id) == {*ids, "b1"}
    assert len(table[table.role == "canary"]) == 1
    assert set(stable.model_version) == {"v1"}
    assert set(shadow.model_version) == {"v2"}


def test_dead_shadow_does_not_fail_primary_requests(serve: type[Served], model_uri: str, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    primary = serve(model_uri, tmp_path, "--prediction-log", "off", "--shadow", dead)
    primary.wait_ready()
    with httpx.Client(base_url=primary.url, timeout=10) as client:
        for row in offers(30, seed=11):
            assert client.post("/predict", json=row).status_code == 200
        deadline = time.monotonic() + 10
        while True:
            text = client.get("/metrics").text
            match = re.search(r'clickcast_shadow_mirror_total\{outcome="error"\} (\d+)', text)
            if match and int(match[1]) == 30:
                break
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
    assert primary.terminate() == 0
