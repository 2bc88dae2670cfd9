"""One assembly of `Observed` for both shells: what to look at, in which order, and what makes a spec unrunnable.

A shell (the operator's Kubernetes objects, `clickcast run`'s processes) says only how to read each thing
(`Sources`); the rules (which run status names, when the trained version and an evaluation report are read,
when the canary's metrics are scraped, that a missing kind blocks the spec) live here once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Protocol

from clickcast.analysis.evidence import EvaluationReport
from clickcast.api.roles import Role
from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus
from clickcast.core.observed import Observed, Rollout, RunObservation, RunState, ServiceHealth, TrainedVersion
from clickcast.runtime.gitops import GitOpsBridge
from clickcast.runtime.outcomes import (
    StoreRefused,
    evaluation_report,
    evaluation_run_name,
    spec_blocker,
    trained_to_read,
    trained_version,
)
from clickcast.runtime.service_health import scrape


class Unrunnable(Exception):  # noqa: N818  (it is a verdict on the spec, reported as Observed.blocker)
    """The spec cannot run here although it is valid (e.g. a kind the cluster does not serve)."""


class Sources(Protocol):
    """How a shell reads the world around one ClickModel. A method may raise `Unrunnable`."""

    async def training_run(self, name: str, spec: ClickModelSpec) -> RunObservation:
        """The training run `name` (on `spec.training.backend`)."""
        ...

    async def run(self, name: str) -> RunObservation:
        """A scoring or evaluation run."""
        ...

    async def rollouts(self) -> Mapping[Role, Rollout]:
        """The serving workloads by role."""
        ...

    async def canary_metrics(self, spec: ClickModelSpec) -> list[str]:
        """The canary's `/metrics` URLs (none: not reachable)."""
        ...

    async def route_weight(self, spec: ClickModelSpec) -> int | None:
        """With `spec.canary.gateway`: the canary's weight in the model's HTTPRoute (None: no HTTPRoute)."""
        ...


async def observe(
    name: str,
    spec: ClickModelSpec,
    status: ClickModelStatus,
    sources: Sources,
    *,
    gitops: GitOpsBridge | None,
    namespace: str,
    generation: int,
) -> Observed:
    blocker = spec_blocker(spec)
    training = scoring = None
    try:
        if status.training is not None and status.training.job_name is not None:
            training = await sources.training_run(status.training.job_name, spec)
        if status.scoring is not None:
            scoring = await sources.run(status.scoring.job_name)
    except Unrunnable as exc:
        blocker = blocker or str(exc)
    trained: TrainedVersion | None = None
    refused: list[str] = []  # the store's refusals, said in a condition rather than failing the reconciliation
    if blocker is None and (version := trained_to_read(status, training)) is not None:
        try:
            trained = await asyncio.to_thread(trained_version, spec, name, version)
        except StoreRefused as exc:
            refused.append(f"version {version}: {exc}")
    rollouts = dict(await sources.rollouts())
    evaluation, evaluated = await _evaluation(name, spec, status, sources, refused)
    health: ServiceHealth | None = None
    if status.canary is not None and evaluated is not None:  # a look is being taken: the guardrails' data
        urls = await sources.canary_metrics(spec)
        health = await scrape(urls) if urls else None
    route: int | None = None
    if spec.canary.gateway is not None:
        try:
            route = await sources.route_weight(spec)
        except Unrunnable as exc:
            blocker = blocker or str(exc)
    git = await gitops.observe(namespace, name, spec, status) if gitops is not None else None
    return Observed(generation=generation, training=training, trained=trained, scoring=scoring,
                    rollouts=rollouts, blocker=blocker, evaluation=evaluation, evaluated=evaluated,
                    git=git, route_weight=route, canary_health=health,
                    store_error="; ".join(refused) or None)  # fmt: skip


async def _evaluation(
    name: str, spec: ClickModelSpec, status: ClickModelStatus, sources: Sources, refused: list[str]
) -> tuple[RunObservation | None, EvaluationReport | None]:
    """The evaluation run status names (the canary's look, else monitoring's), and its report once done."""
    run_name = evaluation_run_name(status)
    if run_name is None:
        return None, None
    run = await sources.run(run_name)
    if run.state is not RunState.SUCCEEDED:
        return run, None
    try:
        return run, await asyncio.to_thread(evaluation_report, spec, name, run_name)
    except StoreRefused as exc:
        refused.append(f"report of {run_name}: {exc}")
        return run, None
