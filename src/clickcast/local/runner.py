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
from clickcast.local.runs import LocalRuns
from clickcast.local.services import LocalServices
from clickcast.local.shell import FileRecorder, LocalExecutor, LocalObserver
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
    ) -> None:
        self.model_file = model_file
        self.state_dir = state_dir
        self.clock = clock or (lambda: datetime.now(UTC))
        self.poll = poll
        state_dir.mkdir(parents=True, exist_ok=True)
        self.runs = LocalRuns(state_dir, master)
        self.services = LocalServices(state_dir, port)
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
        await self.services.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop every process this runner started (runs in flight start again on the next `clickcast run`)."""
        await asyncio.to_thread(self.runs.stop)
        await self.services.stop()

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
