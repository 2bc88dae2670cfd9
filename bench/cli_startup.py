"""CLI start-up: wall and CPU time of `clickcast --help`, `validate` and `operator --help`, eager vs lazy.

Run: `python bench/cli_startup.py [--repeat N]`. "eager" imports every subcommand's module before running
the command, as cli/main.py did before the lazy table; "lazy" is the command as shipped. Both run in the
same invocation, interleaved, so the ratio holds on a loaded machine even where the absolute figures do not.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = str(ROOT / "manifests" / "samples" / "clickmodel-minimal.yaml")
CASES = {"--help": ["--help"], "validate": ["validate", MANIFEST], "operator --help": ["operator", "--help"]}
RUN = """
from clickcast.cli.main import app
try:
    app({argv!r}, prog_name="clickcast")
except SystemExit as e:
    sys.exit(e.code)
"""
EAGER = """
import importlib
from clickcast.cli.main import Commands
for entry in Commands.lazy.values():  # what cli/main.py imported before the lazy table
    importlib.import_module(entry.target.partition(":")[0])
"""


def measure(code: str) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one fresh interpreter running `code`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5, help="Runs per case and mode (the median is shown).")
    repeat = parser.parse_args().repeat
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; median of {repeat} runs")
    print(f"{'command':<26}{'eager wall':>12}{'eager cpu':>11}{'lazy wall':>11}{'lazy cpu':>10}{'speed-up':>10}")
    for name, argv in CASES.items():
        lazy_code = "import sys\n" + RUN.format(argv=argv)
        eager_code = "import sys\n" + EAGER + RUN.format(argv=argv)
        eager, lazy = [], []
        for _ in range(repeat):  # interleaved: a load spike hits both modes alike
            eager.append(measure(eager_code))
            lazy.append(measure(lazy_code))
        ew, ec = (statistics.median(x) for x in zip(*eager, strict=True))
        lw, lc = (statistics.median(x) for x in zip(*lazy, strict=True))
        print(f"clickcast {name:<16}{ew:>12.2f}{ec:>11.2f}{lw:>11.2f}{lc:>10.2f}{ew / lw:>9.1f}x")


if __name__ == "__main__":
    main()
