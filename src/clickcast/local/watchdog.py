"""The runner's watchdog: ends the runner's processes when the runner ends without doing it (SIGKILL, a crash).

The kernel's parent-death signal reaches only the runner's direct children; BentoML's workers and PySpark's
daemons are further down, in sessions and groups of their own. So the runner also starts this process, in a
session of its own (no signal sent to the runner's terminal or process group reaches it), blocked on a pipe
whose only writer is the runner: end of file means the runner is gone, however it went. Then it ends every
process carrying the mark of that runner's start, and nothing else.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from clickcast.local import ownership
from clickcast.local.ownership import Owner


class Watchdog:
    def __init__(self, owner: Owner, log: Path) -> None:
        argv = [sys.executable, "-m", "clickcast.local.watchdog", owner.state_dir, owner.run_id]
        with log.open("ab") as out:
            # close_fds (the default) keeps the pipe's write end out of every other child: the runner's death
            # is then the only way it closes.
            self._process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
                                             start_new_session=True)  # fmt: skip

    def close(self, timeout: float = ownership.GRACE_SECONDS + 10) -> None:
        """The runner stops normally: the watchdog ends what may be left of its processes, then exits."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def watch(state_dir: str, run_id: str) -> None:
    sys.stdin.buffer.read()  # until the runner closes the pipe or dies
    left = ownership.marked(state_dir, run_id)
    for process in left:
        print(f"ending {ownership.describe(process)}", flush=True)
    for process in ownership.end(left):
        print(f"could not end {ownership.describe(process)}", flush=True)


if __name__ == "__main__":
    watch(*sys.argv[1:3])
