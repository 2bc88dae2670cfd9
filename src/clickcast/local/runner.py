"""`clickcast run`: one ClickModel's lifecycle on this machine, with the same core as the operator.

Each step is `clickcast.core.step` (observe → decide → write status → emit Events → carry out actions) with
the local Observer, Executor and Recorder; the runner steps every `poll` seconds, since processes and files
send no watch events. The ClickModel file is read again when it changes (a new `metadata.generation`, as
`kubectl apply` would make). Stopped and started again, the runner continues from its status file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clickcast.api.resource import ClickModel
from clickcast.api.spec import ClickModelSpec
from clickcast.api.status import ClickModelStatus, Phase
from clickcast.api.validation import load_clickmodel
from clickcast.core.plan import Event, Plan
from clickcast.core.ports import step
from clickcast.local.ownership import Leftovers, Owner, StateLock, describe, end, marked
from clickcast.local.runs import LocalRuns
from clickcast.local.services import HOST, LocalServices
from clickcast.local.shell import FileRecorder, LocalExecutor, LocalObserver
from clickcast.local.watchdog import Watchdog
from clickcast.runtime.gitops import GitOpsBridge

Clock = Callable[[], datetime]
SETTLED = (Phase.SERVING, Phase.FAILED, Phase.SUSPENDED)


def settled(status: ClickModelStatus, decisions_before: int) -> bool:
    """Has a lifecycle ended: a release decided since the runner started, and nothing in flight?"""
    decided = len(status.history) > decisions_before or status.phase is Phase.FAILED
    return decided and status.phase in SETTLED and status.candidate is None


@dataclass
class Snapshot:
    """What the runner last decided, for whoever shows progress."""

    status: ClickModelStatus
    plan: Plan | None = None


class LocalRunner:
    def __init__(
        self,
        model_file: Path,
        state_dir: Path,
        *,
        port: int = 3000,
        master: str | None = None,
        clock: Clock | None = None,
        poll: float = 0.5,
        on_event: Callable[[Event], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.model_file = model_file
        self.state_dir = state_dir
        self.clock = clock or (lambda: datetime.now(UTC))
        self.poll = poll
        state_dir.mkdir(parents=True, exist_ok=True)
        self.owner = Owner.new(state_dir)
        self.on_notice = on_notice or (lambda _: None)
        self.runs = LocalRuns(state_dir, master, env=self.owner.env())
        self.services = LocalServices(state_dir, port, env=self.owner.env())
        self._lock = StateLock(state_dir)
        self._watchdog: Watchdog | None = None
        self.leftovers: Leftovers | None = None
        """What was still there after `close` (set by it): empty when every process of this runner ended."""
        self.gitops = GitOpsBridge(state_dir / "git")
        self.recorder = FileRecorder(state_dir, on_event)
        model = load_clickmodel(model_file)
        self.name = model.metadata.name
        saved = self.recorder.load(self.name)
        self.status = (saved.status if saved else None) or ClickModelStatus()
        self.generation = (saved.metadata.generation if saved else None) or 1
        self.spec: ClickModelSpec = saved.spec if saved else model.spec
        self._mtime = 0.0
        self._apply(model)

    # --- the ClickModel --------------------------------------------------------------------------

    def _apply(self, model: ClickModel) -> None:
        if model.spec != self.spec:
            self.generation += 1  # as the API server does for a spec change
        self.spec = model.spec
        self.recorder.metadata = model.metadata.model_copy(update={"generation": self.generation,
                                                                   "namespace": "local"})  # fmt: skip
        self.recorder.spec = model.spec

    def update(self, spec: ClickModelSpec) -> None:
        """Change the spec (what `kubectl apply` of an edited ClickModel does)."""
        self._apply(ClickModel(metadata=self.recorder.metadata, spec=spec))

    def _reload(self) -> None:
        mtime = self.model_file.stat().st_mtime
        if mtime != self._mtime:
            self._mtime = mtime
            self._apply(load_clickmodel(self.model_file))

    # --- running ---------------------------------------------------------------------------------

    async def __aenter__(self) -> LocalRunner:
        self._lock.acquire()
        try:
            await asyncio.to_thread(self._end_what_a_killed_run_left)
            self._watchdog = Watchdog(self.owner, self.state_dir / "watchdog.log")
            await self.services.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _end_what_a_killed_run_left(self) -> None:
        """Processes of an earlier run on this state directory that outlived it (the runner and its watchdog were
        killed): they would hold ports and write to the prediction log as if that run still went on."""
        left = marked(self.owner.state_dir)
        if not left:
            return
        self.on_notice(f"stopping {len(left)} process(es) a previous run left behind: "
                       + ", ".join(describe(p) for p in left))  # fmt: skip
        end(left)

    async def close(self) -> None:
        """Stop every process this runner started (runs in flight start again on the next `clickcast run`), then
        check that none is left (`leftovers`)."""
        try:
            await asyncio.gather(asyncio.to_thread(self.runs.stop), self.services.stop())
        finally:
            self._end_the_rest()

    def _end_the_rest(self) -> None:
        """Synchronous on purpose: no cancellation can cut it short. What left its parent's group (BentoML's workers,
        PySpark's daemons) is ended by its mark; the watchdog is told the runner is done; then the check."""
        end(marked(self.owner.state_dir, self.owner.run_id))
        if self._watchdog is not None:
            self._watchdog.close()
            self._watchdog = None
        self.leftovers = Leftovers.of(self.owner, HOST, self.services.ports())
        self._lock.release()

    async def step(self) -> Snapshot:
        self._reload()
        observer = LocalObserver(self.runs, self.services, self.gitops, self.generation)
        executor = LocalExecutor(self.runs, self.services, self.gitops)
        plan = await step(self.name, self.spec, self.status, self.clock(), observer=observer, executor=executor,
                          recorder=self.recorder)  # fmt: skip
        self.status = plan.status
        return Snapshot(self.status, plan)

    async def run(self, *, once: bool = False, on_step: Callable[[Snapshot], None] | None = None) -> ClickModelStatus:
        """Step until stopped (cancelled), or with `once` until a lifecycle has ended."""
        decisions_before = len(self.status.history)
        if self.recorder.load(self.name) is None:
            await self.recorder.write_status(self.name, self.status)
        while True:
            snapshot = await self.step()
            if on_step is not None:
                on_step(snapshot)
            if once and settled(snapshot.status, decisions_before) and not self.runs.running():
                return snapshot.status
            await asyncio.sleep(self.poll)

    @property
    def endpoint(self) -> str:
        return self.services.stable.url
