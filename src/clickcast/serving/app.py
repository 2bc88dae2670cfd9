"""The prediction app: BentoML mounts it and routes the prediction requests to it directly (FastPath);
plain uvicorn can serve it too (`uvicorn --factory clickcast.serving.app:create_app`).

It owns the whole lifecycle through its lifespan: load and verify the model,
start the prediction-log writer, the adaptive batcher and the shadow mirror;
on shutdown stop taking work, then flush the log. Request bodies are parsed
and validated by pydantic-core straight from bytes; responses are written as
bytes without a response model round-trip. A body over MAX_REQUEST_BYTES is
refused with 413 as soon as its declared length or the bytes read say so,
before it is buffered whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import itertools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from clickcast.api.roles import Role
from clickcast.features import contract
from clickcast.model.artifact import Predictor, load_predictor
from clickcast.serving import metrics
from clickcast.serving.batcher import AdaptiveBatcher
from clickcast.serving.config import MAX_REQUEST_BYTES, Settings
from clickcast.serving.openapi import openapi_document
from clickcast.serving.prediction_log import PredictionLogWriter
from clickcast.serving.schemas import BATCH, OFFER, BatchRequest, Offer
from clickcast.serving.shadow import MIRROR_HEADER, REQUEST_ID_HEADER, ShadowMirror
from clickcast.store.artifacts import StoreError

log = logging.getLogger("clickcast.serving")
JSON = "application/json"


@dataclass
class ServingState:
    """What the process serves; `predictor` is None until the model is verified and loaded."""

    settings: Settings | None = None
    predictor: Predictor | None = None
    model: str = ""
    error: str | None = None
    log: PredictionLogWriter | None = None
    shadow: ShadowMirror | None = None
    batcher: AdaptiveBatcher | None = None

    @property
    def version(self) -> str:
        return self.predictor.version_id if self.predictor is not None else ""

    @property
    def ready(self) -> bool:
        return self.predictor is not None and self.batcher is not None

    async def start(self, settings: Settings | None = None) -> None:
        try:
            self.settings = settings or Settings.from_env()
            if not self.settings.model_uri:
                raise ValueError("MODEL_URI is not set")
            self.predictor = await asyncio.to_thread(
                load_predictor, self.settings.model_uri, self.settings.manifest_sha256
            )
        except Exception as exc:  # whatever the reason (store, checksum, not a model), stay up and unready
            self.error = str(exc) if isinstance(exc, StoreError | ValueError | OSError) else repr(exc)
            uri = self.settings.model_uri if self.settings else "?"
            # One clear line; the process stays up and unready so no traffic is routed to it.
            log.error("NOT READY: cannot serve model %s: %s", uri, self.error)
            return
        s = self.settings
        # One OpenMP thread per worker: more threads only add tail latency (tens of ms) on small requests.
        self.predictor.model.set_threads(s.model_threads)
        self.model = s.model_name or self.predictor.version.manifest.model
        metrics.MODEL_INFO.labels(self.model, self.predictor.version_id, s.role).set(1)
        log_url = s.log_url(self.model)
        if log_url:
            self.log = PredictionLogWriter(log_url, self.model, flush_interval=s.flush_interval)
        if s.shadow_url:
            self.shadow = ShadowMirror(s.shadow_url, queue_size=s.shadow_queue_size, max_bytes=s.shadow_queue_bytes,
                                       token=s.mirror_token)  # fmt: skip
            await self.shadow.start()
        self.batcher = AdaptiveBatcher(self.predictor.predict)
        self.batcher.start()
        # Everything alive now (BentoML, OpenTelemetry, pydantic, the model...) lives for the whole process:
        # keep it out of the cyclic GC, whose full collections otherwise stall requests for tens of ms.
        gc.collect()
        gc.freeze()
        log.info(
            "ready: model %s version %s role %s from %s; prediction log %s; shadow %s",
            *(self.model, self.predictor.version_id, s.role, s.model_uri, log_url or "off", s.shadow_url or "off"),
        )

    async def stop(self) -> None:
        if self.shadow is not None:
            await self.shadow.stop()
        if self.batcher is not None:
            await self.batcher.stop()
        if self.log is not None:
            await asyncio.to_thread(self.log.close)


def _json(body: Any, status: int = 200) -> Response:
    # orjson: a 1,000-prediction response in a tenth of the time of json.dumps.
    return Response(orjson.dumps(body), status_code=status, media_type=JSON)


def _invalid(exc: ValidationError, endpoint: str) -> Response:
    metrics.ERRORS.labels(endpoint, "422").inc()
    detail = [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors(include_url=False)]
    return _json({"detail": detail}, 422)


def _forged_mirror(request: Request, settings: Settings | None) -> bool:
    """A mirror header that is not the release's token (MIRROR_TOKEN): only the stable pods know it, so no client
    can have its request logged as the candidate's shadow prediction of someone else's. No token: not checked."""
    given = request.headers.get(MIRROR_HEADER)
    token = settings.mirror_token if settings is not None else None
    return given is not None and token is not None and not hmac.compare_digest(given.encode(), token.encode())


def _too_large(limit: int, endpoint: str) -> Response:
    metrics.ERRORS.labels(endpoint, "413").inc()
    msg = f"the request body is over the limit of {limit} bytes (MAX_REQUEST_BYTES)"
    return _json({"detail": [{"loc": ["body"], "msg": msg, "type": "too_large"}], "limitBytes": limit}, 413)


async def _body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None once it is known to be over `limit` bytes (by Content-Length, or by what has
    arrived of a body without one): an oversized body is never held whole."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _columns(offers: list[Offer]) -> dict[str, list[Any]]:
    """Contract columns of the offers. Dates stay `datetime.date`: the feature transform reads them as
    datetime64[D] exactly like the training data's YYYY-MM-DD strings, and the log writer formats them in
    bulk (a per-offer isoformat cost a tenth of a batch request)."""
    return {
        contract.DATE: [o["date"] for o in offers],
        contract.CATEGORY_ID: [o["categoryId"] for o in offers],
        contract.MERCHANT_ID: [o["merchantId"] for o in offers],
        contract.CATEGORY: [o["category"] for o in offers],
        contract.DEVICE: [o["device"] for o in offers],
        contract.PRICE: [o["price"] for o in offers],
    }


HOT_PATHS = ("/predict", "/model", "/metrics", "/openapi.json")
"""URL prefixes this app serves (BentoML's tracing skips them)."""
FAST_PATHS = ("/predict", "/predict/batch")
"""Routes that bypass BentoML's per-request middleware (see FastPath)."""


class Endpoints:
    """Request handlers over one ServingState."""

    def __init__(self, state: ServingState, settings: Settings | None) -> None:
        self.state = state
        self.settings = settings
        # Request ids: a random per-process prefix and a counter (a uuid4 per request cost 2% of the hot path).
        self._ids = (f"{uuid.uuid4().hex[:16]}{i:016x}" for i in itertools.count())

    def _unavailable(self, endpoint: str) -> Response:
        metrics.ERRORS.labels(endpoint, "503").inc()
        return _json({"error": f"model not loaded: {self.state.error or 'starting'}"}, 503)

    async def _serve(
        self, request: Request, body: bytes, offers: list[Offer], request_id: str | None
    ) -> tuple[str, str, list[float]]:
        """Predict, log and mirror one request's offers; returns (request id, role, predictions)."""
        state = self.state
        assert state.batcher is not None
        assert state.predictor is not None
        assert state.settings is not None
        mirrored = request.headers.get(MIRROR_HEADER) is not None
        rid = request.headers.get(REQUEST_ID_HEADER, "")[:256] or request_id or next(self._ids)
        role = Role.SHADOW if mirrored else state.settings.role
        columns = _columns(offers)
        predicted = (await state.batcher.submit(columns)).tolist()
        if state.log is not None:
            state.log.append(
                rid,
                columns,
                prices=columns[contract.PRICE],
                predicted=predicted,
                version=state.predictor.version_id,
                role=role,
            )
        if state.shadow is not None and not mirrored:
            state.shadow.submit(request.url.path, rid, body)
        metrics.PREDICTIONS.labels(role).inc(len(predicted))
        metrics.PREDICTED_CLICKS.labels(role).inc(sum(predicted))
        return rid, role, predicted

    async def _handle(
        self,
        request: Request,
        endpoint: str,
        adapter: TypeAdapter[Any],
        answer: Callable[[Request, bytes, Any], Awaitable[dict[str, Any]]],
    ) -> Response:
        """Check readiness, read (413 over the size limit), parse (422 naming the fields), answer (500 counted
        and logged), time it."""
        start = time.perf_counter()
        if not self.state.ready:
            return self._unavailable(endpoint)
        settings = self.state.settings or self.settings
        if _forged_mirror(request, settings):
            metrics.ERRORS.labels(endpoint, "403").inc()
            return _json({"error": f"{MIRROR_HEADER} without this release's mirror token"}, 403)
        limit = settings.max_request_bytes if settings is not None else MAX_REQUEST_BYTES
        body = await _body(request, limit)
        if body is None:
            return _too_large(limit, endpoint)
        try:
            parsed = adapter.validate_json(body)
        except ValidationError as exc:
            return _invalid(exc, endpoint)
        try:
            response = _json(await answer(request, body, parsed))
        except Exception:
            log.exception("%s failed", endpoint)
            metrics.ERRORS.labels(endpoint, "500").inc()
            return _json({"error": "prediction failed"}, 500)
        metrics.REQUEST_LATENCY.labels(endpoint).observe(time.perf_counter() - start)
        return response

    async def _one(self, request: Request, body: bytes, offer: Offer) -> dict[str, Any]:
        rid, role, (value,) = await self._serve(request, body, [offer], offer.get("requestId"))
        version = self.state.version
        return {
            "requestId": rid,
            "offerId": offer.get("offerId"),
            "predictedClicks": value,
            "modelVersion": version,
            "role": role,
        }

    async def _many(self, request: Request, body: bytes, batch: BatchRequest) -> dict[str, Any]:
        rid, role, values = await self._serve(request, body, batch["offers"], batch.get("requestId"))
        return {"requestId": rid, "predictedClicks": values, "modelVersion": self.state.version, "role": role}

    async def predict(self, request: Request) -> Response:
        return await self._handle(request, "predict", OFFER, self._one)

    async def predict_batch(self, request: Request) -> Response:
        return await self._handle(request, "predict_batch", BATCH, self._many)

    async def model_info(self, _: Request) -> Response:
        state = self.state
        if state.predictor is None or state.settings is None:
            return self._unavailable("model")
        p = state.predictor
        spec = p.features
        return _json(
            {
                "model": state.model,
                "version": p.version_id,
                "role": state.settings.role,
                "manifestSha256": p.version.manifest_sha256,
                "createdAt": p.version.manifest.created_at.isoformat(),
                "metrics": p.metrics,
                "features": {
                    "names": spec.feature_names,
                    "types": spec.feature_types,
                    "vocabularySizes": {v.column: len(v.values) for v in spec.categorical},
                    "dateColumn": spec.date_column,
                },
            }
        )

    async def metrics_view(self, _: Request) -> Response:
        text, content_type = metrics.exposition()
        return Response(text, media_type=content_type)

    async def openapi(self, _: Request) -> Response:
        return _json(openapi_document())

    async def livez(self, _: Request) -> Response:
        return Response(b"ok\n", media_type="text/plain")

    async def readyz(self, _: Request) -> Response:
        if self.state.ready:
            return Response(b"ready\n", media_type="text/plain")
        return Response(f"not ready: {self.state.error or 'starting'}\n".encode(), 503, media_type="text/plain")

    @contextlib.asynccontextmanager
    async def lifespan(self, _: Starlette) -> AsyncIterator[None]:
        await self.state.start(self.settings)
        try:
            yield
        finally:
            await self.state.stop()


class FastPath:
    """ASGI entry that sends the prediction routes straight to the prediction app and everything else
    (lifespan, probes, metrics, docs) to BentoML's app.

    BentoML wraps every request in its middleware (context, timeout, tracing, errors). Its timeout
    middleware alone keeps a timer, a task and a future alive per request for the whole timeout, so at
    a few thousand requests/s hundreds of thousands of objects pile up and full garbage collections
    stall the process for 50-300 ms: that, not the average cost, was the p99.
    """

    def __init__(self, default: ASGIApp, fast: ASGIApp, paths: tuple[str, ...] = FAST_PATHS) -> None:
        self.default = default
        self.fast = fast
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.paths:
            await self.fast(scope, receive, send)
        else:
            await self.default(scope, receive, send)


def create_app(state: ServingState | None = None, settings: Settings | None = None) -> Starlette:
    """The prediction app; `settings` default to the environment, read at startup."""
    state = state or ServingState()
    ep = Endpoints(state, settings)
    app = Starlette(
        routes=[
            Route("/predict", ep.predict, methods=["POST"]),
            Route("/predict/batch", ep.predict_batch, methods=["POST"]),
            Route("/model", ep.model_info, methods=["GET"]),
            Route("/metrics", ep.metrics_view, methods=["GET"]),
            Route("/openapi.json", ep.openapi, methods=["GET"]),
            # Also answered by BentoML itself when mounted; kept so the app stands alone.
            Route("/livez", ep.livez, methods=["GET"]),
            Route("/readyz", ep.readyz, methods=["GET"]),
        ],
        lifespan=ep.lifespan,
    )
    app.state.serving = state
    return app
