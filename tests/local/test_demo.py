"""`clickcast demo --once` (what `make demo` runs, minus serving on): the whole lifecycle, checked from outside."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.local.test_run import _ours

pytestmark = pytest.mark.e2e


def test_demo_retrains_on_a_moved_market_canaries_promotes_through_git_and_reports(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "clickcast", "demo", "--once", "--dir", str(directory), "--rows", "80000"],
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
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
    assert _ours(tmp_path) == []
