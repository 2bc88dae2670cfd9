"""The BentoML service: the container image and `clickcast serve` run exactly this.

BentoML supplies the process model (arbiter, workers, graceful shutdown),
`/livez` and `/readyz` (ready only once `__is_ready__`), and mounts the lean
prediction app (app.py) for everything else. Its own per-request machinery
is switched off where the prediction app does the job itself: BentoML's
traffic metrics (the app exports its own), the access log (one log line per
request costs more than the prediction) and tracing (sampled at 0).
"""

from __future__ import annotations

import os

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")  # offline: no usage analytics

import bentoml

from clickcast.serving.app import ServingState, create_app

STATE = ServingState()
APP = create_app(STATE)


@bentoml.service(
    name="clickcast",
    workers=int(os.environ.get("CLICKCAST_WORKERS", "1")),
    traffic={"timeout": 30},
    metrics={"enabled": False},
    logging={"access": {"enabled": False}},
    tracing={"sample_rate": 0.0},
)
@bentoml.asgi_app(APP, path="/")
class ClickcastService:
    """Serves one verified model version (MODEL_URI) with role MODEL_ROLE; see clickcast.serving.config."""

    def __is_ready__(self) -> bool:
        return STATE.ready
