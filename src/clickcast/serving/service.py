"""The BentoML service: the container image and `clickcast serve` run exactly this.

BentoML supplies the process model (arbiter, workers, graceful shutdown),
the lifespan, `/livez` and `/readyz` (ready only once `__is_ready__`), and
mounts the prediction app (app.py) for its other routes. `POST /predict` and
`POST /predict/batch` go to the prediction app in front of BentoML's
per-request middleware (app.FastPath). The rest of its per-request machinery
is switched off where the prediction app does the job itself: BentoML's
traffic metrics (the app exports its own), the access log (one log line per
request costs more than the prediction) and tracing (no exporter; skipped
for the prediction app's paths).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")  # offline: no usage analytics

import bentoml
from starlette.types import ASGIApp

from clickcast.serving.app import HOT_PATHS, FastPath, ServingState, create_app
from clickcast.store import credentials


def _log_to_stderr() -> None:
    """BentoML configures its own loggers only; clickcast's lines (ready, NOT READY, flushes) go to stderr."""
    logger = logging.getLogger("clickcast")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s [%(levelname)s] [%(name)s] %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


_log_to_stderr()
if (_storage := credentials.from_environment()) is not None:  # s3:// model URIs and prediction logs
    credentials.install(_storage)
STATE = ServingState()
APP = create_app(STATE)


class FastPathService(bentoml.Service[Any]):  # type: ignore[misc]  # bentoml has no type information
    """BentoML's service, with the prediction routes in front of its per-request middleware."""

    def to_asgi(self, is_main: bool = True) -> ASGIApp:
        return FastPath(super().to_asgi(is_main), APP)


@bentoml.service(
    service_class=FastPathService,
    name="clickcast",
    workers=int(os.environ.get("CLICKCAST_WORKERS", "1")),
    traffic={"timeout": 30},
    metrics={"enabled": False},
    logging={"access": {"enabled": False}},
    # No exporter is configured, yet the tracing middleware still makes spans for every ASGI message
    # (a quarter of a single-offer request in a py-spy profile): skip it for the prediction app's paths.
    tracing={"sample_rate": 0.0, "excluded_urls": list(HOT_PATHS)},
)
@bentoml.asgi_app(APP, path="/")
class ClickcastService:
    """Serves one verified model version (MODEL_URI) with role MODEL_ROLE; see clickcast.serving.config."""

    def __is_ready__(self) -> bool:
        return STATE.ready
