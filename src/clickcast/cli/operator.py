"""`clickcast operator`: run the kopf operator against the current kubeconfig or in-cluster."""

from __future__ import annotations

import dataclasses
import os
from typing import Annotated

import typer

from clickcast.cli.errors import fail
from clickcast.jobs.layout import JOBS_DIR


def operator(
    *,
    namespace: Annotated[
        list[str] | None, typer.Option("--namespace", "-n", help="Namespace to watch (repeatable; glob patterns).")
    ] = None,
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Watch every namespace (the default without -n).")
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, max=256, envvar="CLICKCAST_WORKERS", help="ClickModels reconciled concurrently.")
    ] = 8,
    jobs_dir: Annotated[
        str, typer.Option(envvar="CLICKCAST_JOBS_DIR", help="Where the jobs image keeps train.py and score.py.")
    ] = JOBS_DIR,
    liveness_port: Annotated[int, typer.Option(help="Port of GET /healthz (0: off).")] = 8080,
    metrics_port: Annotated[int, typer.Option(help="Port of the Prometheus /metrics (0: off).")] = 8000,
    peering: Annotated[
        str | None,
        typer.Option(help="kopf peering object shared by the replicas (HA: one active at a time). Default: none."),
    ] = None,
    priority: Annotated[
        int, typer.Option(envvar="CLICKCAST_PRIORITY", help="kopf peering priority: the highest works, others wait.")
    ] = 0,
    git_cache: Annotated[
        str | None,
        typer.Option(envvar="CLICKCAST_GIT_CACHE", help="Where GitOps clones are kept (a writable emptyDir in a pod)."),
    ] = None,
    jobs_image: Annotated[
        str | None,
        typer.Option(
            envvar="CLICKCAST_JOBS_IMAGE",
            help="Image of the runs of a ClickModel without spec.training.image "
            "(default ghcr.io/clickcast/jobs:<version>).",
        ),
    ] = None,
    serving_image: Annotated[
        str | None,
        typer.Option(
            envvar="CLICKCAST_SERVING_IMAGE",
            help="Image of the serving pods of a ClickModel without spec.serving.image "
            "(default ghcr.io/clickcast/serving:<version>).",
        ),
    ] = None,
    error_limit: Annotated[
        int,
        typer.Option(
            min=1,
            max=1000,
            envvar="CLICKCAST_ERROR_LIMIT",
            help="Failed reconciliations of a ClickModel in a row before ReconcileError=True and an Event.",
        ),
    ] = 3,
    git_schemes: Annotated[
        str,
        typer.Option(
            envvar="CLICKCAST_GIT_SCHEMES",
            help="GitOps URL schemes the operator pushes to, comma-separated, of https, ssh, http, file "
            "(http sends credentials in clear; file writes into the operator's own filesystem).",
        ),
    ] = "https,ssh",
    log_format: Annotated[str, typer.Option(help="json (kopf's structured format) or plain.")] = "json",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs.")] = False,
) -> None:
    """Run the operator: reconcile ClickModels into trainings, validations, rollouts and promotions."""
    if namespace and all_namespaces:
        fail("give --namespace or --all-namespaces, not both")
    if log_format not in ("json", "plain"):
        fail(f"--log-format {log_format!r}: use json or plain")
    import kopf  # noqa: PLC0415 - only this command needs the operator's dependencies

    from clickcast.operator.config import OperatorConfig  # noqa: PLC0415
    from clickcast.operator.config import git_schemes as parse_schemes  # noqa: PLC0415

    try:
        schemes = parse_schemes(git_schemes)
    except ValueError as exc:
        fail(f"--git-schemes: {exc}")
    config = OperatorConfig(
        namespaces=tuple(namespace or ()),
        workers=workers,
        metrics_port=metrics_port or None,
        jobs_dir=jobs_dir,
        error_limit=error_limit,
        git_schemes=schemes,
    )
    if git_cache:
        config = dataclasses.replace(config, git_cache=git_cache)
    if jobs_image:
        config = dataclasses.replace(config, jobs_image=jobs_image)
    if serving_image:
        config = dataclasses.replace(config, serving_image=serving_image)
    os.environ.update(config.to_env())
    _install_own_store_credentials()
    import clickcast.operator.handlers  # noqa: F401, PLC0415 - registers the handlers

    kopf.configure(verbose=verbose, log_format=kopf.LogFormat.JSON if log_format == "json" else kopf.LogFormat.FULL)
    kopf.run(
        clusterwide=not namespace,
        namespaces=config.namespaces,
        standalone=peering is None,
        peering_name=peering,
        priority=priority,
        liveness_endpoint=f"http://0.0.0.0:{liveness_port}/healthz" if liveness_port else None,
        memo=kopf.Memo(config=config),
    )


def _install_own_store_credentials() -> None:
    """The operator reads the store (published versions, evaluation reports) with credentials of its own.

    The chart mounts `operator.storeCredentialsSecret` and points CLICKCAST_STORAGE_OPTIONS at it; a
    ClickModel's storageOptionsSecret goes to its pods only. Unreadable options stop the operator at start,
    with the path and key named (never a value), rather than failing every reconcile later.
    """
    from clickcast.store import credentials  # noqa: PLC0415 - fsspec, only for this command

    try:
        options = credentials.from_environment()
    except credentials.CredentialsError as exc:
        fail(f"{credentials.ENV}: {exc}")
    if options is not None:
        credentials.install(options)
