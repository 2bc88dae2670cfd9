"""`clickcast serve`: run the prediction service locally, exactly as the serving image runs it."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from clickcast.cli.errors import fail
from clickcast.serving.config import Settings

SERVICE = "clickcast.serving.service:ClickcastService"


def serve(
    *,
    model: Annotated[str, typer.Option("--model", help="Model version URI, e.g. file:///store/models/offers/v3.")],
    sha256: Annotated[
        str | None, typer.Option("--sha256", help="Expected manifest sha256: refuse a version whose manifest differs.")
    ] = None,
    port: Annotated[int, typer.Option(help="HTTP port.", min=1, max=65535)] = 3000,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    role: Annotated[str, typer.Option(help="stable or canary.")] = "stable",
    name: Annotated[str | None, typer.Option(help="ClickModel name (default: the model's name in the store).")] = None,
    prediction_log: Annotated[
        str | None, typer.Option(help="Prediction log URL; 'off' disables (default: <store>/predictions/<name>).")
    ] = None,
    flush_interval: Annotated[str, typer.Option(help="Prediction-log flush interval, e.g. 5s.")] = "5s",
    shadow: Annotated[str | None, typer.Option(help="Base URL of a candidate service to mirror requests to.")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
) -> None:
    """Serve one model version over HTTP (BentoML); stays up but unready if the model is missing or corrupt."""
    env = {
        "MODEL_URI": model,
        "MODEL_ROLE": role,
        "PREDICTION_LOG_FLUSH_INTERVAL": flush_interval,
        "CLICKCAST_WORKERS": str(workers),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    for key, value in (
        ("MODEL_SHA256", sha256),
        ("MODEL_NAME", name),
        ("PREDICTION_LOG_URL", prediction_log),
        ("SHADOW_URL", shadow),
    ):
        if value:
            env[key] = value
    try:
        Settings.from_env(env)
    except ValueError as exc:
        fail(
            str(exc)
            .replace("MODEL_ROLE", "--role")
            .replace("MODEL_SHA256", "--sha256")
            .replace("PREDICTION_LOG_FLUSH_INTERVAL", "--flush-interval")
        )
    os.environ.update(env)
    argv = [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", host, "--port", str(port)]
    # Replace this process so signals (SIGTERM from Kubernetes or a test) reach BentoML's arbiter directly.
    os.execv(sys.executable, argv)
