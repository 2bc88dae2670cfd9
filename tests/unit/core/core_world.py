"""Building blocks for lifecycle-core tests: specs, evidence, observations, and a simulated world.

The simulated world is a test double of the cluster: it carries out a plan's actions the way the
operator's executor does (a started run runs, a deployed role rolls out, a retired role disappears) and
reports them as an Observed snapshot, so tests can drive `decide` through whole lifecycles.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from clickcast.analysis.evidence import (
    CanaryComparison,
    EvaluationReport,
    ReferenceEvidence,
    TrainingEvidence,
    VersionDailyMetrics,
)
from clickcast.analysis.sequential import add
from clickcast.api.roles import Role
from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import CanaryDaySums, CanarySums, ClickModelStatus, Metrics, Phase
from clickcast.api.traffic import Traffic
from clickcast.core import (
    Deploy,
    Observed,
    Plan,
    Retire,
    Rollout,
    RunObservation,
    RunState,
    StartEvaluation,
    StartScoring,
    StartTraining,
    TrainedVersion,
    VersionPin,
    decide,
)
from clickcast.core.observed import GitPromotion

NAME = "offers"
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def spec(**overrides: Any) -> ClickModelSpec:
    """The minimal spec (file store) with dotted-path overrides, e.g. spec(**{"promotion.mode": "manual"})."""
    doc: dict[str, Any] = {"data": {"url": "file:///data/clicks"}, "store": {"url": "file:///store"}}
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return ClickModelSpec.model_validate(doc)


def metrics(deviance: float, calibration: float = 1.0, margin: float = 10.0) -> Metrics:
    return Metrics(rows=5000, mae=deviance / 2, rmse=deviance, poisson_deviance=deviance,
                   calibration=calibration, margin=margin)  # fmt: skip


def evidence(deviance: float = 1.0, *, baseline: float = 1.2, reference: tuple[str, float] | None = None,
             calibration: float = 1.0) -> TrainingEvidence:  # fmt: skip
    ref = None
    if reference is not None:
        ref = ReferenceEvidence(version=reference[0], metrics=metrics(reference[1]))
    return TrainingEvidence(model=metrics(deviance, calibration), baseline=metrics(baseline), reference=ref)


def pin(version: str) -> VersionPin:
    return VersionPin(version, f"file:///store/models/{NAME}/{version}", f"{abs(hash(version)):064d}"[:64])


def trained(version: str, ev: TrainingEvidence | None = None) -> TrainedVersion:
    return TrainedVersion(pin(version), ev or evidence())


def complete(p: VersionPin, replicas: int = 2, *, traffic: Traffic = Traffic.OWN) -> Rollout:
    return Rollout(p.version, p.manifest_sha256, desired=replicas, ready=replicas, updated=replicas, traffic=traffic)


def canary_sums(n: int, ratio: float, *, stable_mean: float = 1.0, spread: float = 0.5,
                paired: bool = False) -> CanarySums:  # fmt: skip
    """One look's new evidence: n offer-days per version, the candidate's mean deviance `ratio` times stable's."""
    s, c = stable_mean, stable_mean * ratio
    return CanarySums(stable_n=n, stable_sum=n * s, stable_sum_sq=n * (s * s + spread**2), candidate_n=n,
                      candidate_sum=n * c, candidate_sum_sq=n * (c * c + spread**2), pairs=n if paired else 0,
                      cross_sum=n * (s * c + 0.8 * spread**2) if paired else 0.0, stable_predicted=float(n),
                      stable_actual=float(n), candidate_predicted=float(n), candidate_actual=float(n))  # fmt: skip


CLICKS_BEFORE = date(2026, 11, 1)
"""The day before the world's first day of real clicks."""


def quality_report(version: str, first: date, through: date, deviance: float, rows: int = 2000) -> EvaluationReport:
    """A quality evaluation that measured the stable version's predictions on days `first`..`through`."""
    days = [first + timedelta(days=i) for i in range((through - first).days + 1)]
    daily = [VersionDailyMetrics(model=NAME, model_version=version, role=Role.STABLE, date=day.isoformat(),
                                 metrics=Metrics(rows=rows, poisson_deviance=deviance, calibration=1.0))
             for day in days]  # fmt: skip
    return EvaluationReport(rows=rows * len(days), unmatched=0, through=through, daily=daily)


def report(sums: CanarySums, through: date, *, paired: bool = False,
           daily: dict[date, CanarySums] | None = None) -> EvaluationReport:  # fmt: skip
    comparison = CanaryComparison(stable_version="s", candidate_version="c", paired=paired, sums=sums,
                                  daily=[CanaryDaySums(day=k, sums=v) for k, v in (daily or {}).items()])  # fmt: skip
    return EvaluationReport(rows=sums.stable_n + sums.candidate_n, unmatched=0, through=through,
                            comparison=comparison)  # fmt: skip


def run(state: RunState, message: str = "") -> RunObservation:
    return RunObservation(state, message)


@dataclass
class World:
    """A cooperative cluster: runs finish as configured, Deployments roll out, evidence is published."""

    deviance: float = 1.0
    """The candidate's test deviance; the baseline's is 1.2, the stable version's `reference_deviance`."""
    reference_deviance: float = 1.0
    training_outcome: RunState = RunState.SUCCEEDED
    scoring_outcome: RunState = RunState.SUCCEEDED
    rollout_ready: bool = True
    canary_ratio: float = 0.9
    """The candidate's deviance ratio on real clicks, as each canary look measures it."""
    look_rows: int = 2000
    paired: bool = False
    """Shadow-mode evidence (pairs) rather than split-mode (two samples)."""
    quality_ratio: float = 1.0
    """The stable version's deviance on each new day of real clicks, relative to its test deviance."""
    evaluation_outcome: RunState = RunState.SUCCEEDED
    git: GitPromotion | None = None
    """What Git answers while a promotion is being recorded (None: nothing, as without spec.promotion.gitops)."""
    runs: dict[str, RunState] = field(default_factory=dict)
    published: dict[str, VersionPin] = field(default_factory=dict)
    rollouts: dict[Role, Rollout] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    windows: dict[str, date | None] = field(default_factory=dict)
    """Each evaluation run's `after` day: a canary run reports the day after it (one new day of clicks per look)."""
    canary_days: dict[str, dict[date, CanarySums]] = field(default_factory=dict)
    """Each candidate's days of real clicks so far, and their sums (a look that measures a day again sees these)."""
    canary_through: dict[str, date] = field(default_factory=dict)
    """Each canary run's last day."""
    quality_through: dict[str, date] = field(default_factory=dict)
    """Each quality run's last day: one day of clicks more than the runs before it saw (it measures every day
    after its `after`)."""

    def apply(self, plan: Plan, stable_version: str | None) -> None:
        for action in plan.actions:
            if isinstance(action, StartTraining):
                if action.name not in self.runs:
                    self.started.append(action.name)
                    self.runs[action.name] = self.training_outcome
                    if self.training_outcome is RunState.SUCCEEDED:
                        self.published[action.version] = pin(action.version)
            elif isinstance(action, StartScoring):
                self.runs.setdefault(action.name, self.scoring_outcome)
            elif isinstance(action, StartEvaluation):
                self.runs.setdefault(action.name, self.evaluation_outcome)
                self.windows.setdefault(action.name, action.after)
            elif isinstance(action, Deploy):
                ready = action.pin.manifest_sha256 and self.rollout_ready
                n = action.replicas or (2 if action.role is Role.STABLE else 1)
                self.rollouts[action.role] = Rollout(action.pin.version, action.pin.manifest_sha256, desired=n,
                                                     ready=n if ready else 0, updated=n,
                                                     traffic=action.traffic)  # fmt: skip
            elif isinstance(action, Retire):
                self.rollouts.pop(action.role, None)

    def _canary_look(self, run_name: str, candidate: str) -> EvaluationReport:
        """A look at the candidate's days after the run's `after`: one day more than the looks before it saw."""
        days = self.canary_days.setdefault(candidate, {})
        after = max(self.windows.get(run_name) or CLICKS_BEFORE, CLICKS_BEFORE)
        through = max([after, *days]) + timedelta(days=1) if run_name not in self.canary_through else None
        through = self.canary_through.setdefault(run_name, through or after)
        for i in range(1, (through - after).days + 1):
            days.setdefault(
                after + timedelta(days=i), canary_sums(self.look_rows, self.canary_ratio, paired=self.paired)
            )
        seen = {day: sums for day, sums in days.items() if after < day <= through}
        return report(functools.reduce(add, seen.values(), CanarySums()), through, paired=self.paired, daily=seen)

    def observe(self, status: ClickModelStatus, generation: int = 1) -> Observed:
        t, s = status.training, status.scoring
        training = RunObservation(self.runs.get(t.job_name, RunState.MISSING)) if t and t.job_name else None
        published = self.published.get(t.version) if t and t.version else None
        reference = (status.stable.version, self.reference_deviance) if status.stable is not None else None
        ev = evidence(self.deviance, reference=reference)
        evaluation = status.canary.job_name if status.canary is not None else None
        quality = status.monitoring.job_name if status.monitoring is not None and evaluation is None else None
        run_state = self.runs.get(evaluation or quality or "", RunState.MISSING) if evaluation or quality else None
        evaluated = None
        if evaluation is not None and run_state is RunState.SUCCEEDED and status.canary is not None:
            evaluated = self._canary_look(evaluation, status.canary.version)
        elif quality is not None and run_state is RunState.SUCCEEDED and status.stable is not None:
            after = max(self.windows.get(quality) or CLICKS_BEFORE, CLICKS_BEFORE)
            if quality not in self.quality_through:
                self.quality_through[quality] = max([after, *self.quality_through.values()]) + timedelta(days=1)
            test = status.stable.metrics.poisson_deviance if status.stable.metrics else None
            evaluated = quality_report(status.stable.version, after + timedelta(days=1), self.quality_through[quality],
                                       (test or 1.0) * self.quality_ratio)  # fmt: skip
        return Observed(
            generation=generation,
            training=training,
            trained=TrainedVersion(published, ev) if published is not None else None,
            scoring=RunObservation(self.runs.get(s.job_name, RunState.MISSING)) if s else None,
            rollouts=dict(self.rollouts),
            evaluation=RunObservation(run_state) if run_state is not None else None,
            evaluated=evaluated,
            git=self.git if status.phase is Phase.PROMOTING else None,
        )


def drive(world: World, spec_: ClickModelSpec, status: ClickModelStatus, *, now: datetime = NOW,
          steps: int = 20, tick: timedelta = timedelta(seconds=30)) -> tuple[ClickModelStatus, list[Plan]]:  # fmt: skip
    """Run decide against the world until nothing changes; returns the final status and every plan."""
    plans = []
    for _ in range(steps):
        plan = decide(NAME, spec_, status, world.observe(status), now)
        plans.append(plan)
        world.apply(plan, status.stable.version if status.stable else None)
        if plan.status == status and not plan.actions:
            break
        status, now = plan.status, now + tick
    return status, plans


def with_(status: ClickModelStatus, **updates: Any) -> ClickModelStatus:
    return status.model_copy(update=copy.deepcopy(updates), deep=True)


__all__ = [
    "NOW",
    "World",
    "canary_sums",
    "complete",
    "drive",
    "evidence",
    "pin",
    "replace",
    "report",
    "run",
    "spec",
    "trained",
    "with_",
]
