"""The embedded runner's pure parts: traffic weights, when a lifecycle has ended, how processes are reused."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clickcast.api.roles import Role
from clickcast.api.status import CandidateStatus, ClickModelStatus, HistoryEntry, Phase, ReleaseOutcome
from clickcast.api.traffic import Traffic
from clickcast.core.observed import RunState
from clickcast.core.plan import Deploy, VersionPin
from clickcast.local import processes
from clickcast.local.frontend import Target, pick
from clickcast.local.processes import Child
from clickcast.local.runner import settled
from clickcast.local.runs import LocalRuns
from clickcast.local.services import Backend

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 1, tzinfo=UTC)
PIN = VersionPin("v1", "file:///s/models/m/v1", "a" * 64)


def test_pick_follows_the_weights_and_skips_empty_ones() -> None:
    targets = [Target("http://stable", 3), Target("http://none", 0), Target("http://canary", 1)]
    draws = (i / 1000 for i in itertools.count())
    counts = Counter(t.url for t in (pick(targets, lambda: next(draws)) for _ in range(1000)) if t)
    assert counts == {"http://stable": 750, "http://canary": 250}
    assert pick([Target("x", 0)]) is None
    assert pick([]) is None


def _history(version: str) -> HistoryEntry:
    return HistoryEntry(version=version, decision=ReleaseOutcome.PROMOTED, reason="Promoted", time=NOW)


@pytest.mark.parametrize(
    ("status", "before", "expected"),
    [
        (ClickModelStatus(phase=Phase.SERVING, history=[_history("v1")]), 0, True),
        (ClickModelStatus(phase=Phase.SERVING, history=[_history("v1")]), 1, False),  # nothing decided this run
        (ClickModelStatus(phase=Phase.TRAINING, history=[_history("v1")]), 0, False),
        (ClickModelStatus(phase=Phase.FAILED), 0, True),
        (
            ClickModelStatus(
                phase=Phase.SERVING, history=[_history("v1")], candidate=CandidateStatus(version="v2", trained_at=NOW)
            ),
            0,
            False,
        ),
    ],
    ids=["released", "no-new-decision", "in-flight", "failed", "candidate-pending"],
)
def test_a_lifecycle_has_ended_once_a_release_is_decided_and_nothing_is_in_flight(
    status: ClickModelStatus, before: int, expected: bool
) -> None:
    assert settled(status, before) is expected


def test_only_a_change_of_version_or_traffic_needs_a_new_serving_process(tmp_path: Path) -> None:
    backend = Backend(Role.STABLE, PIN, traffic=Traffic.OWN, replicas=2, port=1,
                      child=Child([], tmp_path / "log", None))  # type: ignore[arg-type]  # fmt: skip
    assert backend.same_process(Deploy(Role.STABLE, PIN, replicas=5))  # a weight, not a restart
    assert not backend.same_process(Deploy(Role.STABLE, PIN, traffic=Traffic.MIRROR))
    assert not backend.same_process(Deploy(Role.STABLE, VersionPin("v2", PIN.uri, PIN.manifest_sha256)))
    assert not backend.same_process(Deploy(Role.STABLE, VersionPin("v1", PIN.uri, "b" * 64)))


def test_a_cancelled_run_is_killed_and_reads_as_failed_not_missing(tmp_path: Path) -> None:
    """StopRun in `clickcast run`: the run's process group goes, and the core does not start it again."""
    runs = LocalRuns(tmp_path)
    runs.children["hung"] = processes.start(["sleep", "300"], runs.log("hung"))
    assert runs.observe("hung").state is RunState.RUNNING
    runs.cancel("hung")
    seen = runs.observe("hung")
    assert seen.state is RunState.FAILED and "exit code -15" in seen.message, seen
    runs.cancel("never-started")  # nothing to stop: nothing happens
    assert runs.observe("never-started").state is RunState.MISSING
