"""Pure parts of the serving package: settings, prediction-log writer, adaptive batcher, schemas."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from clickcast.api.roles import Role
from clickcast.api.spec import Serving
from clickcast.api.traffic import Traffic
from clickcast.serving import manifests
from clickcast.serving.app import FastPath
from clickcast.serving.batcher import AdaptiveBatcher
from clickcast.serving.config import Settings
from clickcast.serving.prediction_log import PredictionLogWriter
from clickcast.serving.schemas import OFFER
from clickcast.store.prediction_log import COLUMNS

pytestmark = pytest.mark.unit


def test_settings_from_env_and_default_log_url() -> None:
    s = Settings.from_env({"MODEL_URI": "s3://bucket/store/models/offers/v3", "PREDICTION_LOG_FLUSH_INTERVAL": "2s"})
    assert (s.role, s.flush_interval, s.shadow_url) == ("stable", 2.0, None)
    assert s.log_url("offers") == "s3://bucket/store/predictions/offers"
    assert Settings.from_env({"MODEL_URI": "x", "PREDICTION_LOG_URL": "off"}).log_url("m") is None
    with pytest.raises(ValueError, match="MODEL_ROLE"):
        Settings.from_env({"MODEL_ROLE": "shadow"})
    with pytest.raises(ValueError, match="PREDICTION_LOG_FLUSH_INTERVAL"):
        Settings.from_env({"PREDICTION_LOG_FLUSH_INTERVAL": "soon"})
    assert Settings.from_env({"MODEL_SHA256": "0f" * 32}).manifest_sha256 == "0f" * 32
    with pytest.raises(ValueError, match="MODEL_SHA256"):
        Settings.from_env({"MODEL_SHA256": "not-a-checksum"})
    assert (s.max_request_bytes, s.shadow_queue_bytes) == (4 * 1024 * 1024, 16 * 1024 * 1024)
    sized = Settings.from_env({"MAX_REQUEST_BYTES": "2048", "SHADOW_QUEUE_BYTES": "65536"})
    assert (sized.max_request_bytes, sized.shadow_queue_bytes) == (2048, 65536)
    for name in ("MAX_REQUEST_BYTES", "SHADOW_QUEUE_BYTES"):
        with pytest.raises(ValueError, match=name):
            Settings.from_env({name: "1MiB"})


def _append(writer: PredictionLogWriter, rid: str, days: list[str]) -> None:
    n = len(days)
    columns: dict[str, list[Any]] = {
        "date": days,
        "categoryId": ["1"] * n,
        "merchantId": ["2"] * n,
        "category": ["shoes"] * n,
        "device": ["mobile"] * n,
    }
    writer.append(rid, columns, prices=[1.0] * n, predicted=[0.5] * n, version="v1", role=Role.STABLE)


def test_log_writer_partitions_by_day_and_flushes_on_size_and_close(tmp_path: Path) -> None:
    writer = PredictionLogWriter(f"file://{tmp_path}", "offers", flush_interval=3600, max_rows=4)
    _append(writer, "r1", ["2026-01-01", "2026-01-02"])
    assert writer.pending == 2
    _append(writer, "r2", ["2026-01-02", "2026-01-02"])  # reaches max_rows: the thread flushes
    for _ in range(100):
        if writer.pending == 0 and len(list(tmp_path.rglob("*.parquet"))) == 2:
            break
        asyncio.run(asyncio.sleep(0.05))
    _append(writer, "r3", ["2026-01-03"])
    writer.close()
    writer.close()  # idempotent
    files = sorted(tmp_path.rglob("*.parquet"))
    assert [f.parent.name for f in files] == ["date=2026-01-01", "date=2026-01-02", "date=2026-01-03"]
    assert not list(tmp_path.rglob(".*"))  # no temporary files left behind
    tables = [pq.read_table(f) for f in files]
    assert all(tuple(t.column_names) == COLUMNS for t in tables)
    assert [t.num_rows for t in tables] == [1, 3, 1]
    assert str(tables[0].schema.field("ts").type) == "timestamp[ms, tz=UTC]"


def test_failed_flush_keeps_rows_for_the_next_attempt(tmp_path: Path) -> None:
    blocker = tmp_path / "log"
    blocker.write_text("a file where the log directory should be")
    writer = PredictionLogWriter(f"file://{blocker}", "offers", flush_interval=3600)
    _append(writer, "r1", ["2026-01-01"])
    with pytest.raises((FileExistsError, NotADirectoryError)):
        writer.flush()
    assert writer.pending == 1
    blocker.unlink()
    writer.close()
    assert len(list(blocker.rglob("*.parquet"))) == 1


def test_batcher_merges_concurrent_requests_and_keeps_their_order() -> None:
    calls: list[int] = []

    def predict(columns: Any) -> np.ndarray:
        calls.append(len(columns["x"]))
        return np.asarray(columns["x"], dtype=np.float64) * 2

    async def run() -> list[list[float]]:
        batcher = AdaptiveBatcher(predict)
        batcher.start()
        outs = await asyncio.gather(*(batcher.submit({"x": [i, i + 0.5]}) for i in range(10)))
        await batcher.stop()
        return [o.tolist() for o in outs]

    outs = asyncio.run(run())
    assert outs == [[2.0 * i, 2.0 * i + 1] for i in range(10)]
    assert sum(calls) == 20
    assert len(calls) < 10  # merged


def test_offer_schema_coerces_ids_and_rejects_bad_fields() -> None:
    offer = OFFER.validate_json(
        b'{"date":"2026-01-05","categoryId":3,"merchantId":"m","category":"c","device":"tablet","price":0,"x":1}'
    )
    assert offer["categoryId"] == "3"
    assert "x" not in offer
    with pytest.raises(ValidationError) as info:
        OFFER.validate_json(b'{"date":"2026-01-05","categoryId":3,"merchantId":"m","category":"c","device":"tv"}')
    assert {e["loc"][0] for e in info.value.errors()} == {"device", "price"}


def test_fast_path_routes_prediction_requests_around_the_default_app() -> None:
    seen: list[str] = []

    def app(name: str) -> Any:
        async def asgi(scope: Any, receive: Any, send: Any) -> None:
            seen.append(f"{name}:{scope['type']}:{scope.get('path', '')}")

        return asgi

    entry = FastPath(app("bentoml"), app("fast"))
    for scope in ({"type": "http", "path": "/predict"}, {"type": "http", "path": "/predict/batch"},
                  {"type": "http", "path": "/readyz"}, {"type": "lifespan"}):  # fmt: skip
        asyncio.run(entry(scope, None, None))
    assert seen == ["fast:http:/predict", "fast:http:/predict/batch", "bentoml:http:/readyz", "bentoml:lifespan:"]


def test_manifests_for_a_stable_version_mirroring_to_its_canary() -> None:
    serving = Serving(image="registry.example.com/team/serving:1.2", replicas=3, port=3100)
    shadow = manifests.service_url(model="offers", role=Role.CANARY, serving=serving, namespace="ads")
    dep = manifests.deployment(
        model="offers",
        version="v3",
        model_uri="s3://store/models/offers/v3",
        manifest_sha256="ab" * 32,
        role=Role.STABLE,
        serving=serving,
        namespace="ads",
        prediction_log_url="s3://store/predictions/offers",
        shadow_url=shadow,
        traffic=Traffic.MIRROR,
        mirror_token=manifests.mirror_token("uid-1"),
    )
    assert dep["metadata"]["annotations"][manifests.TRAFFIC_ANNOTATION] == "mirror", "the observer reads it back"
    container = dep["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MODEL_URI"] == "s3://store/models/offers/v3"
    assert env["MODEL_SHA256"] == "ab" * 32
    assert env["SHADOW_URL"] == "http://offers-canary.ads.svc:3100"
    # One token per ClickModel, the same at every reconcile, another for another model (its uid).
    assert env["MIRROR_TOKEN"] == manifests.mirror_token("uid-1") != manifests.mirror_token("uid-2")
    assert len(env["MIRROR_TOKEN"]) == 32 and "uid-1" not in env["MIRROR_TOKEN"]
    assert env["BENTOML_PORT"] == "3100"
    assert env["BENTOML_HOST"] == "0.0.0.0"  # every interface, so `kubectl port-forward` reaches it too
    assert container["image"] == "registry.example.com/team/serving:1.2"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    svc = manifests.service(model="offers", role=Role.STABLE, serving=serving, namespace="ads")
    pods = dep["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pods.items()  # the stable Service reaches the stable pods
    # A split canary's pods join the stable Service; a shadow canary's do not (and neither is in the
    # canary Deployment's selector, which stays immutable across steps).
    for traffic in (Traffic.SHARE, Traffic.OWN):
        canary = manifests.deployment(model="offers", version="v4", model_uri="s3://store/models/offers/v4",
                                      manifest_sha256="cd" * 32, role=Role.CANARY, serving=serving, namespace="ads",
                                      prediction_log_url="s3://p", replicas=2, traffic=traffic)  # fmt: skip
        labels = canary["spec"]["template"]["metadata"]["labels"]
        assert (svc["spec"]["selector"].items() <= labels.items()) is (traffic is Traffic.SHARE)
        assert canary["spec"]["replicas"] == 2
        assert manifests.PUBLIC_LABEL not in canary["spec"]["selector"]["matchLabels"]


def test_serve_rejects_bad_options_in_one_line() -> None:
    from typer.testing import CliRunner

    from clickcast.cli.main import app

    result = CliRunner().invoke(app, ["serve", "--model", "file:///store/models/m/v1", "--role", "shadow"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == ["error: --role='shadow': must be one of stable, canary"]
    result = CliRunner().invoke(app, ["serve", "--model", "file:///s/models/m/v1", "--flush-interval", "soon"])
    assert result.exit_code == 2
    assert "--flush-interval" in result.stderr
