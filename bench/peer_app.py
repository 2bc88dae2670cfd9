"""The peer: a minimal Starlette app serving the same model, with pydantic parsing and nothing else.

Run by the benchmark with `uvicorn bench.peer_app:app` (MODEL_URI in the environment).
"""

from __future__ import annotations

import json
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from clickcast.model.artifact import load_predictor
from clickcast.serving.schemas import BATCH, OFFER

predictor = load_predictor(os.environ["MODEL_URI"])
predictor.model.set_threads(1)  # as clickcast: OpenMP threads only add tail latency here


async def predict(request: Request) -> Response:
    o = OFFER.validate_json(await request.body())
    cols = {
        "date": [o["date"]],
        "categoryId": [o["categoryId"]],
        "merchantId": [o["merchantId"]],
        "category": [o["category"]],
        "device": [o["device"]],
        "price": [o["price"]],
    }
    value = float(predictor.predict(cols)[0])
    return Response(json.dumps({"predictedClicks": value}).encode(), media_type="application/json")


async def predict_batch(request: Request) -> Response:
    offers = BATCH.validate_json(await request.body())["offers"]
    cols = {
        "date": [o["date"] for o in offers],
        "categoryId": [o["categoryId"] for o in offers],
        "merchantId": [o["merchantId"] for o in offers],
        "category": [o["category"] for o in offers],
        "device": [o["device"] for o in offers],
        "price": [o["price"] for o in offers],
    }
    values = predictor.predict(cols).tolist()
    return Response(json.dumps({"predictedClicks": values}).encode(), media_type="application/json")


app = Starlette(
    routes=[Route("/predict", predict, methods=["POST"]), Route("/predict/batch", predict_batch, methods=["POST"])]
)
