"""`clickcast demo` (what `make demo` runs): the whole lifecycle, serving on until SIGTERM, checked from outside."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.local.watch import Watch, until
from tests.report.test_report import js_error, rendered_dom

pytestmark = pytest.mark.e2e


def _serving_on(out: Path) -> bool:
    return "serving on; Ctrl-C stops everything" in out.read_text(errors="replace")


@pytest.mark.timeout(1800)  # a story of several Spark runs: on a busy 2-core machine, well past the default
def test_demo_retrains_on_a_moved_market_canaries_promotes_through_git_reports_and_stops(tmp_path: Path) -> None:
    directory, output = tmp_path / "demo", tmp_path / "demo.out"
    with output.open("wb") as sink:  # its own process group, as `make demo` in a terminal
        demo = subprocess.Popen([sys.executable, "-m", "clickcast", "demo", "--dir", str(directory), "--rows", "80000"],
                                stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    watch = Watch(demo.pid, directory / "state")
    until("serving on", lambda: _serving_on(output) or demo.poll() is not None, 1200)
    assert demo.poll() is None, output.read_text()[-3000:]
    watch.look()
    # SIGTERM to the process group (the reported case: under `make demo`, uv forwards it a second time).
    os.killpg(demo.pid, signal.SIGTERM)
    os.killpg(demo.pid, signal.SIGTERM)
    assert demo.wait(90) == 0
    out = output.read_text(errors="replace")
    assert "stopped; every process the demo started is stopped too" in out, out[-3000:]
    assert watch.left() == ([], set())
    status = yaml.safe_load((directory / "state" / "offers.yaml").read_text())["status"]
    first, second = status["history"][1]["version"], status["history"][0]["version"]
    assert [h["decision"] for h in status["history"]] == ["Promoted", "Promoted"]
    assert status["stable"]["version"] == second != first
    assert "QualityDrop" in out  # the moved market was noticed by quality tracking, which retrained
    assert "(QualityDegraded)" in out
    assert "canary: Pass" in out, out[-3000:]
    # Both promotions are commits with their evidence in the local Git repository.
    log = subprocess.run(["git", "--git-dir", str(directory / "releases.git"), "log", "--format=%B"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert log.count("Clickcast-Promotion: local/offers@") == 2
    evidence = subprocess.run(["git", "--git-dir", str(directory / "releases.git"), "show",
                               f"main:models/local/offers/evidence/{second}.json"],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert json.loads(evidence)["canary"]["verdict"] == "Pass"
    # Live requests went on through the promotion: none failed. The final request was answered by the new version.
    assert ", 0 failed" in out
    answer = json.loads(out[out.index("$ curl") :].splitlines()[1])
    assert answer["modelVersion"] == second and answer["predictedClicks"] > 0
    report = (directory / "report.html").read_text()
    assert first in report and second in report
    # The page as a browser shows it (its figures and tables are drawn by scripts): headless Chromium.
    browser = tmp_path / "browser"
    browser.mkdir()
    dom = rendered_dom(report, browser)
    assert js_error(dom) is None
    assert f"Canary of {second}: Pass, Promoted" in dom, "the canary that passed is on the page"
    assert "quality: <b>Drop</b>" not in dom, "the replaced version's drop is not the new stable's"
