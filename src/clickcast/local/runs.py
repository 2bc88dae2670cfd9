"""Training, scoring and evaluation runs as local processes: `python -m clickcast train|score|evaluate`.

A run is a directory `<state>/runs/<name>/` holding the ClickModel it was decided with (`clickmodel.yaml`,
like the operator's ConfigMap), its log and, once it ended, its exit code. Ensuring a run that exists (running,
or ended with an exit code) changes nothing; a run interrupted by a stopped runner has no exit code and reads
as missing, so the core starts it again under the same name.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from clickcast.api.resource import API_VERSION, KIND
from clickcast.api.spec import ClickModelSpec
from clickcast.core.observed import RunObservation, RunState
from clickcast.local import processes
from clickcast.local.processes import Child

MODEL_FILE = "clickmodel.yaml"
EXIT_FILE = "exit-code"


class LocalRuns:
    def __init__(self, state_dir: Path, master: str | None = None, env: Mapping[str, str] | None = None) -> None:
        self.root = state_dir / "runs"
        self.master = master
        """Spark master of every run (None: the spec's training.master)."""
        self.env = {**(env or {}), "PYSPARK_PYTHON": sys.executable}
        self.children: dict[str, Child] = {}

    def dir(self, name: str) -> Path:
        return self.root / name

    def log(self, name: str) -> Path:
        return self.dir(name) / "log"

    def model_file(self, name: str, model: str, spec: ClickModelSpec) -> str:
        """Freeze the spec the run was decided with (a later edit of the ClickModel does not change the run)."""
        path = self.dir(name) / MODEL_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": model}, "spec": spec.to_wire()}
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return str(path)

    def ensure(self, name: str, command: str, args: Sequence[str], spec: ClickModelSpec) -> None:
        """Start `clickcast <command> <args>` as run `name` unless it is running or has ended."""
        self.poll()
        if name in self.children or (self.dir(name) / EXIT_FILE).exists():
            return
        master = self.master or spec.training.master
        argv = [sys.executable, "-m", "clickcast", command, *args, "--master", master]
        self.children[name] = processes.start(argv, self.log(name), env=self.env)

    def poll(self) -> None:
        """Write the exit code of every run that ended (it outlives the runner; the process does not)."""
        for name, child in list(self.children.items()):
            code = child.exit_code
            if code is not None:
                (self.dir(name) / EXIT_FILE).write_text(str(code))
                del self.children[name]

    def observe(self, name: str) -> RunObservation:
        self.poll()
        if name in self.children:
            return RunObservation(RunState.RUNNING)
        try:
            code = int((self.dir(name) / EXIT_FILE).read_text())
        except (OSError, ValueError):
            return RunObservation(RunState.MISSING)
        if code == 0:
            return RunObservation(RunState.SUCCEEDED)
        tail = processes.tail(self.log(name))
        return RunObservation(RunState.FAILED, f"run {name} failed (exit code {code}): {tail} (log: {self.log(name)})")

    def running(self) -> list[str]:
        self.poll()
        return sorted(self.children)

    def cancel(self, name: str) -> None:
        """Stop run `name` for good: it reads as failed (killed), not as missing, so it is not started again."""
        child = self.children.pop(name, None)
        if child is not None:
            processes.stop_all([child])
            (self.dir(name) / EXIT_FILE).write_text(str(child.exit_code if child.exit_code is not None else -9))

    def stop(self) -> None:
        """Stop every run still going; each reads as missing next time and is started again."""
        processes.stop_all(list(self.children.values()))
        self.children.clear()
