"""The demo's story, step by step, against the embedded runner (the same lifecycle core as the operator).

1. The first version trains on the days before a market shift and serves.
2. The market moves; two weeks of clicks arrive, then two days of traffic and clicks: quality tracking sees the
   drop and (autoRetrain) trains the next version on the newer data, which passes its gates.
3. It runs as a shadow canary: each look, a day of offers is replayed at the stable endpoint (mirrored to the
   canary), then that day's real clicks arrive; the sequential test looks until it decides.
4. Promotion: committed with its evidence to a local Git repository, then stable rolls under live traffic.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from clickcast.api.duration import parse_duration
from clickcast.api.roles import Role
from clickcast.api.status import CanaryStatus, ClickModelStatus, Phase
from clickcast.api.traffic import Traffic as RoleTraffic
from clickcast.demo.market import Market, Traffic
from clickcast.jobs.generate import GeneratorConfig
from clickcast.local.runner import LocalRunner

NAME = "offers"
FLUSH_WAIT = 3.0
"""Seconds for both services to flush their prediction logs (1 s interval) after a day's replay."""


class DemoError(Exception):
    """The demo cannot go on: one line saying what failed and where its log is."""


@dataclass(frozen=True)
class DemoConfig:
    directory: Path
    rows: int = 120_000
    days: int = 60
    shift: int = 30
    """Day index of the market shift: the first version learns only the days before it."""
    gap: int = 14
    """Days of clicks that arrive after the shift before traffic is replayed again."""
    seed: int = 7
    port: int = 0
    master: str = "local[2]"
    timeout: float = 900.0
    """Seconds any one step may take before the demo gives up."""


@dataclass
class SimulatedClock:
    """The runner's clock: the demo moves it on by an interval per day fed (time is compressed)."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class DemoResult:
    status: ClickModelStatus
    endpoint: str
    traffic: Traffic
    git_dir: Path
    log: list[str]
    canary: CanaryStatus | None
    """The canary as it was decided."""


def clickmodel(directory: Path) -> dict[str, object]:
    return {
        "apiVersion": "clickcast.io/v1alpha1",
        "kind": "ClickModel",
        "metadata": {"name": NAME},
        "spec": {
            # A short window: after the shift, the next version learns mostly from the moved market.
            "data": {"url": f"file://{directory}/lake", "window": {"trainDays": 14, "testDays": 3}},
            "store": {"url": f"file://{directory}/store"},
            "canary": {"mode": "shadow", "interval": "1h", "minObservations": 1000, "maxDuration": "24h"},
            "monitoring": {"interval": "1h", "autoRetrain": True},
            "promotion": {"gitops": {"repoUrl": f"file://{directory}/releases.git", "path": "models"}},
        },
    }


class Story:
    def __init__(self, cfg: DemoConfig, say: Callable[[str], None],
                 progress: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.cfg, self.say = cfg, say
        self.progress = progress or (lambda _: None)
        self.dir = cfg.directory
        self.clock = SimulatedClock()
        self.log: list[str] = []
        self.canary: CanaryStatus | None = None
        self.runner: LocalRunner | None = None
        """The runner, once started: what its `leftovers` say after the story ends."""

    async def run(self, finish: Callable[[DemoResult], Awaitable[None]] | None = None) -> DemoResult:
        """The story; `finish` runs while everything still serves (the summary, then serving on if asked)."""
        cfg = self.cfg
        self.say(f"generating {cfg.rows:,} offer-days over {cfg.days} days (a market shift on day {cfg.shift})")
        market = await asyncio.to_thread(
            Market.generate, self.dir / "source", self.dir / "lake",
            GeneratorConfig(rows=cfg.rows, days=cfg.days, seed=cfg.seed, shifts=(cfg.shift,), shift_strength=0.6),
        )  # fmt: skip
        market.release_clicks(cfg.shift)
        git_dir = self.dir / "releases.git"
        subprocess.run(["git", "init", "--bare", "-q", "-b", "main", str(git_dir)], check=True)
        model_file = self.dir / "clickmodel.yaml"
        model_file.write_text(yaml.safe_dump(clickmodel(self.dir), sort_keys=False))
        runner = LocalRunner(model_file, self.dir / "state", port=cfg.port, master=cfg.master, clock=self.clock,
                             on_event=lambda e: self.event(f"{e.reason}: {e.message}"), on_notice=self.say)  # fmt: skip
        self.runner = runner
        async with runner:
            loop = asyncio.create_task(runner.run(), name="clickcast-run")
            try:
                result = await self._story(runner, market, loop, git_dir)
                if finish is not None:
                    await finish(result)
                return result
            finally:
                loop.cancel()
                await asyncio.gather(loop, return_exceptions=True)

    def event(self, line: str) -> None:
        self.log.append(line)
        self.say(f"  [event] {line}")

    async def _wait(self, runner: LocalRunner, loop: asyncio.Task[ClickModelStatus], what: str,
                    done: Callable[[ClickModelStatus], bool]) -> ClickModelStatus:  # fmt: skip
        """Until `done(status)`; a failed lifecycle or runner ends the demo with its reason."""
        deadline = asyncio.get_running_loop().time() + self.cfg.timeout
        while True:
            status = runner.status
            self.canary = status.canary or self.canary
            running = ", ".join(runner.runs.running()) or "no run"
            self.progress(f"waiting for {what}: phase {status.phase}, {running}")
            if done(status):
                return status
            if loop.done():
                loop.result()  # raises what stopped the runner
                raise DemoError("the runner stopped")
            if status.phase is Phase.FAILED:
                reasons = "; ".join(f"{c.type}: {c.message}" for c in status.conditions if c.status == "False")
                raise DemoError(f"{NAME} failed while waiting for {what}: {reasons}")
            if asyncio.get_running_loop().time() > deadline:
                raise DemoError(f"no {what} after {self.cfg.timeout:.0f}s (phase {status.phase}; logs in "
                                f"{self.dir / 'state'})")  # fmt: skip
            await asyncio.sleep(0.3)

    async def _story(self, runner: LocalRunner, market: Market, loop: asyncio.Task[ClickModelStatus],
                     git_dir: Path) -> DemoResult:  # fmt: skip
        cfg, spec = self.cfg, runner.spec
        self.say(f"1. training the first version on days 0-{cfg.shift - 1} (Spark, local mode)")
        status = await self._wait(runner, loop, "first version serving",
                                  lambda s: s.phase is Phase.SERVING and s.stable is not None)  # fmt: skip
        assert status.stable is not None
        first = status.stable.version
        self.say(f"   {first} serves at {runner.endpoint}")
        traffic = Traffic(runner.endpoint)
        stop = asyncio.Event()
        live = asyncio.create_task(traffic.steady(market.offers(cfg.days - 1)[:200], stop))

        self.say(f"2. the market moves: days {cfg.shift}-{cfg.shift + cfg.gap - 1} of clicks arrive, then two days "
                 "of traffic")  # fmt: skip
        market.release_clicks(cfg.shift + cfg.gap)
        day = cfg.shift + cfg.gap
        for _ in range(2):
            await traffic.replay(market.offers(day))
            day += 1
        await asyncio.sleep(FLUSH_WAIT)
        market.release_clicks(day)
        self.clock.advance(parse_duration(spec.monitoring.interval) + timedelta(seconds=1))
        status = await self._wait(runner, loop, "a quality evaluation",
                                  lambda s: (s.monitoring is not None and s.monitoring.evaluations >= 1)
                                  or s.phase is not Phase.SERVING)  # fmt: skip
        if status.phase is Phase.SERVING:
            self.say("   quality held: retraining on the newer data by hand (spec.training.trigger)")
            runner.update(spec.model_copy(update={"training": spec.training.model_copy(
                update={"trigger": "newer-data"})}))  # fmt: skip
        status = await self._wait(runner, loop, "the next version's canary",
                                  lambda s: (s.phase in (Phase.CANARY, Phase.SERVING) and s.candidate is not None)
                                  or (bool(s.history) and s.history[0].version != first))  # fmt: skip
        if status.phase is not Phase.CANARY:
            raise DemoError(f"the next version did not reach the canary: {status.history[0].message}")
        assert status.candidate is not None
        second = status.candidate.version
        self.say(f"3. {second} runs as a shadow canary; a day of traffic and clicks per look")
        await self._wait(runner, loop, "the canary serving", lambda s: self._shadow_ready(runner))
        while runner.status.phase is Phase.CANARY and day < cfg.days - 1:
            looks = runner.status.canary.analyses if runner.status.canary else 0
            await traffic.replay(market.offers(day))
            day += 1
            await asyncio.sleep(FLUSH_WAIT)
            market.release_clicks(day)
            self.clock.advance(parse_duration(spec.canary.interval) + timedelta(seconds=1))

            def looked(s: ClickModelStatus, before: int = looks) -> bool:
                return s.phase is not Phase.CANARY or (s.canary is not None and s.canary.analyses > before)

            await self._wait(runner, loop, "a canary look", looked)
        self.say("4. the decision")
        status = await self._wait(runner, loop, "the release to end",
                                  lambda s: s.phase is Phase.SERVING and s.candidate is None)  # fmt: skip
        await asyncio.sleep(1.0)  # live requests keep going across the roll
        stop.set()
        await live
        return DemoResult(status, runner.endpoint, traffic, git_dir, self.log, self.canary)

    @staticmethod
    def _shadow_ready(runner: LocalRunner) -> bool:
        active = runner.services.active
        stable = active.get(Role.STABLE)
        return Role.CANARY in active and stable is not None and stable.traffic is RoleTraffic.MIRROR
