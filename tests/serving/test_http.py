"""The served process over real HTTP: predictions, validation, model info, metrics, OpenAPI."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import orjson
import pytest

from clickcast.model.artifact import load_predictor
from tests.serving.conftest import Served
from tests.serving.model import publish_glm_model, synthetic_rows

pytestmark = pytest.mark.e2e

OFFER = {
    "date": "2026-01-05",
    "categoryId": "3",
    "merchantId": "101",
    "category": "shoes",
    "device": "mobile",
    "price": 10.5,
}


def offers(n: int, seed: int) -> list[dict[str, Any]]:
    cols = synthetic_rows(n, seed)
    rows = [{k: cols[k][i] for k in cols} for i in range(n)]
    rows[0] |= {"category": "never-seen", "merchantId": "99999"}  # unseen categories -> unknown code
    rows[1] |= {"categoryId": 7, "merchantId": 120}  # numeric ids are the same offer as their strings
    return rows


def expected(model_uri: str, rows: list[dict[str, Any]]) -> np.ndarray:
    cols = {k: [str(r[k]) if k.endswith("Id") else r[k] for r in rows] for k in rows[0]}
    return load_predictor(model_uri).predict(cols)


def test_single_and_batch_predictions_equal_the_in_process_model(stable: Served, model_uri: str) -> None:
    rows = offers(40, seed=3)
    want = expected(model_uri, rows)
    with httpx.Client(base_url=stable.url, timeout=10) as client:
        got = []
        for row in rows:
            r = client.post("/predict", json={**row, "offerId": "o1"})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["modelVersion"] == "v1"
            assert body["role"] == "stable"
            assert body["offerId"] == "o1"
            got.append(body["predictedClicks"])
        np.testing.assert_allclose(got, want, rtol=1e-6)
        r = client.post("/predict/batch", json={"offers": rows, "requestId": "batch-1"})
        assert r.status_code == 200, r.text
        assert r.json()["requestId"] == "batch-1"
        np.testing.assert_allclose(r.json()["predictedClicks"], want, rtol=1e-6)


def test_invalid_requests_get_422_naming_the_field(stable: Served) -> None:
    cases: list[tuple[str, Any, list[Any]]] = [
        ("/predict", {**OFFER, "device": "phone"}, ["body", "device"]),
        ("/predict", {**OFFER, "price": -1}, ["body", "price"]),
        ("/predict", {k: v for k, v in OFFER.items() if k != "date"}, ["body", "date"]),
        ("/predict", {**OFFER, "date": "2026-13-40"}, ["body", "date"]),
        ("/predict", {**OFFER, "categoryId": ""}, ["body", "categoryId"]),
        ("/predict/batch", {"offers": [OFFER, {**OFFER, "device": None}]}, ["body", "offers", 1, "device"]),
        ("/predict/batch", {"offers": []}, ["body", "offers"]),
    ]
    with httpx.Client(base_url=stable.url, timeout=10) as client:
        for path, payload, loc in cases:
            r = client.post(path, json=payload)
            assert r.status_code == 422, (payload, r.text)
            assert loc in [e["loc"] for e in r.json()["detail"]], r.text
        r = client.post("/predict", content=b"{not json")
        assert r.status_code == 422
        assert r.json()["detail"][0]["type"] == "json_invalid"


def test_model_info_metrics_openapi_and_probes(stable: Served) -> None:
    with httpx.Client(base_url=stable.url, timeout=10) as client:
        assert client.post("/predict", json=OFFER).status_code == 200
        assert client.post("/predict", json={**OFFER, "price": "free"}).status_code == 422
        info = client.get("/model").json()
        assert info["version"] == "v1"
        assert info["model"] == "offers"
        assert info["metrics"]["model"]["mae"] == 1.2
        assert info["features"]["names"][:4] == ["categoryId", "merchantId", "category", "device"]
        assert client.get("/livez").status_code == 200
        assert client.get("/readyz").status_code == 200
        text = client.get("/metrics").text
        assert 'clickcast_model_info{model="offers",role="stable",version="v1"} 1.0' in text
        assert 'clickcast_predictions_total{role="stable"}' in text
        assert 'clickcast_predicted_clicks_total{role="stable"}' in text
        assert 'clickcast_request_duration_seconds_bucket{endpoint="predict"' in text
        assert 'clickcast_request_errors_total{endpoint="predict",status="422"}' in text
        spec = client.get("/openapi.json").json()
        assert set(spec["paths"]) >= {"/predict", "/predict/batch", "/model"}
        assert spec["components"]["schemas"]["Offer"]["properties"]["device"]["enum"] == ["desktop", "mobile", "tablet"]


def test_a_glm_version_serves_like_the_in_process_model(serve: type[Served], store: Any, tmp_path: Any) -> None:
    uri = publish_glm_model(f"file://{store}", version="v-glm-http")
    served = serve(uri, tmp_path, "--prediction-log", "off", "--sha256", load_predictor(uri).version.manifest_sha256)
    served.wait_ready()
    rows = offers(25, seed=11)
    want = expected(uri, rows)
    assert len(set(np.round(want, 6))) > 5  # the coefficients make the offers differ
    with httpx.Client(base_url=served.url, timeout=10) as client:
        single = client.post("/predict", json=rows[2])
        assert single.status_code == 200, single.text
        assert single.json()["modelVersion"] == "v-glm-http"
        assert single.json()["predictedClicks"] == pytest.approx(want[2], rel=1e-6)
        batch = client.post("/predict/batch", json={"offers": rows})
        assert batch.status_code == 200, batch.text
        np.testing.assert_allclose(batch.json()["predictedClicks"], want, rtol=1e-6)
        assert client.get("/model").json()["version"] == "v-glm-http"


def test_a_body_over_the_size_limit_gets_413_and_is_not_predicted(
    serve: type[Served], model_uri: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_REQUEST_BYTES", "4096")
    served = serve(model_uri, tmp_path, "--prediction-log", "off")
    served.wait_ready()
    big = {**OFFER, "offerId": "o" * 5_000}

    def chunks() -> Any:  # no Content-Length: the limit is found while reading
        yield b'{"offers": ['
        for i in range(200):
            yield orjson.dumps(OFFER) + (b"," if i < 199 else b"")
        yield b"]}"

    with httpx.Client(base_url=served.url, timeout=30) as client:
        for path, r in [("/predict", client.post("/predict", json=big)),
                        ("/predict/batch", client.post("/predict/batch", content=chunks()))]:  # fmt: skip
            assert r.status_code == 413, (path, r.status_code, r.text[:200])
            body = r.json()
            assert body["limitBytes"] == 4096
            assert body["detail"][0]["type"] == "too_large" and "4096 bytes" in body["detail"][0]["msg"]
        assert client.post("/predict", json=OFFER).status_code == 200  # under the limit: served as before
        assert client.post("/predict/batch", json={"offers": [OFFER] * 10}).status_code == 200
        text = client.get("/metrics").text
    assert 'clickcast_request_errors_total{endpoint="predict",status="413"} 1.0' in text
    assert 'clickcast_request_errors_total{endpoint="predict_batch",status="413"} 1.0' in text
    assert 'clickcast_predictions_total{role="stable"} 11.0' in text  # the refused bodies predicted nothing
