"""`build_report` and `clickcast report`: the page renders in a real browser (headless Chromium).

Chromium loads the page from disk with JavaScript on and prints the DOM after plotly ran: every figure must
have become plotly SVG, and no script error may have happened (an `error` listener, added by the test ahead of
the page's own scripts, writes a marker into the DOM). A screenshot must not be blank. Chromium is installed by
`make chromium` (part of `make test-services`); without it these tests fail rather than skip.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from clickcast.analysis.evidence import EvaluationReport, VersionDailyMetrics, VersionMetrics
from clickcast.api.roles import Role
from clickcast.api.status import (
    CanaryLook,
    CanaryStatus,
    CandidateStatus,
    ClickModelStatus,
    Condition,
    ConditionStatus,
    DailyQuality,
    HistoryEntry,
    Metrics,
    ModelVersionStatus,
    MonitoringStatus,
    Phase,
    QualityState,
    ReleaseOutcome,
    SegmentMetrics,
    Verdict,
)
from clickcast.cli.main import app
from clickcast.core import decide
from clickcast.report import build_report
from tests.unit.core import core_world

pytestmark = pytest.mark.report

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
DAY0 = date(2025, 2, 1)
FIGURES = 5  # daily, metrics, canary, quality, history
HOSTILE = '<script>alert("x")</script>&<b>'
ERROR_MARKER = "data-js-error"
CATCH_ERRORS = (
    "<script>window.addEventListener('error', e => "
    f"document.documentElement.setAttribute('{ERROR_MARKER}', String(e.message)));</script>"
)


def metrics(deviance: float, rows: int = 20000, calibration: float = 1.0) -> Metrics:
    return Metrics(rows=rows, mae=deviance * 0.6, rmse=deviance * 1.1, poisson_deviance=deviance,
                   calibration=calibration, margin=120.0)  # fmt: skip


def segments(deviance: float) -> list[SegmentMetrics]:
    return [SegmentMetrics(column="device", value=v, metrics=metrics(deviance * f, rows=r))
            for v, f, r in (("mobile", 1.05, 9000), ("desktop", 0.95, 8000), ("tablet", 1.1, 3000))]  # fmt: skip


def realistic_status(message: str = "rollback after the canary failed") -> ClickModelStatus:
    """Stable v2 serving, v3 in a canary with 8 looks, 30 days of monitoring, a promotion and a rollback."""
    rng = np.random.default_rng(7)
    looks = []
    for k in range(1, 9):
        ratio = 1.0 + 0.03 / k + rng.normal(0, 0.005)
        half = 0.25 / np.sqrt(k)
        looks.append(CanaryLook(look=k, time=T0 + timedelta(minutes=10 * k), weight=[10, 25, 50][min(k // 3, 2)],
                                stable_observations=4000 * k, candidate_observations=1500 * k, deviance_ratio=ratio,
                                ratio_low=ratio - half, ratio_high=ratio + half,
                                verdict=Verdict.PASS if k == 8 else Verdict.RUNNING))  # fmt: skip
    daily = [DailyQuality(day=DAY0 + timedelta(days=t), version="v2", rows=int(rng.integers(3000, 5000)),
                          deviance=1.02 * (1 + rng.normal(0, 0.02)), ratio=1 + rng.normal(0, 0.02),
                          calibration=1 + rng.normal(0, 0.03)) for t in range(30)]  # fmt: skip
    return ClickModelStatus(
        phase=Phase.CANARY,
        phase_since=T0,
        stable=ModelVersionStatus(
            version="v2", metrics=metrics(1.02), baseline_metrics=metrics(1.10), segments=segments(1.02)
        ),
        candidate=CandidateStatus(
            version="v3",
            metrics=metrics(1.01),
            baseline_metrics=metrics(1.09),
            segments=segments(1.01),
            reference_version="v2",
        ),
        canary=CanaryStatus(
            version="v3",
            weight=50,
            step=2,
            started_at=T0,
            analyses=8,
            looks=looks,
            deviance_ratio=looks[-1].deviance_ratio,
            ci_low=looks[-1].ratio_low,
            ci_high=looks[-1].ratio_high,
            verdict=Verdict.PASS,
        ),
        monitoring=MonitoringStatus(
            state=QualityState.HEALTHY,
            reference_deviance=1.02,
            daily=daily,
            deviance_ratio=daily[-1].ratio,
            cusum=0.01,
            evaluated_through=daily[-1].day,
        ),
        conditions=[
            Condition(
                type="Ready",
                status=ConditionStatus.TRUE,
                reason="Serving",
                message="v2 serves",
                last_transition_time=T0,
            )
        ],
        history=[
            HistoryEntry(
                version="v2b",
                decision=ReleaseOutcome.ROLLED_BACK,
                reason="CanaryFailed",
                message=message,
                time=T0 - timedelta(days=3),
                metrics=metrics(1.05),
            ),
            HistoryEntry(
                version="v2",
                decision=ReleaseOutcome.PROMOTED,
                reason="CanaryPassed",
                message="deviance ratio 0.99",
                time=T0 - timedelta(days=10),
                git_commit="abc1234",
            ),
            HistoryEntry(
                version="v1x",
                decision=ReleaseOutcome.REJECTED,
                reason="GatesFailed",
                message="calibration 1.4 > 1.2",
                time=T0 - timedelta(days=20),
            ),
        ],
    )


def evaluation() -> EvaluationReport:
    key = {"model": "ctr"}
    daily = [VersionDailyMetrics(**key, model_version=v, role=role, date=(DAY0 + timedelta(days=23 + t)).isoformat(),
                                 metrics=metrics(1.02 + 0.01 * t * (v == "v3"), rows=2000, calibration=1 + 0.01 * t))
             for t in range(7) for v, role in (("v2", Role.STABLE), ("v3", Role.CANARY))]  # fmt: skip
    versions = [VersionMetrics(**key, model_version=v, role=role, metrics=metrics(1.03))
                for v, role in (("v2", Role.STABLE), ("v3", Role.CANARY))]  # fmt: skip
    return EvaluationReport(rows=28000, unmatched=120, versions=versions, daily=daily)


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium is not installed: run `make chromium` (part of `make test-services`)")
    return path


def browse(page: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Load `page` in headless Chromium with scripts on, letting timers run for up to 10 s of virtual time."""
    return subprocess.run(
        [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--window-size=1200,3000",
         *extra, page.as_uri()],
        capture_output=True, text=True, timeout=180, check=True,
    )  # fmt: skip


def rendered_dom(html: str, tmp_path: Path) -> str:
    page = tmp_path / "report.html"
    page.write_text(html.replace("<head>", f"<head>{CATCH_ERRORS}", 1), encoding="utf-8")
    return browse(page, tmp_path, "--dump-dom").stdout


def js_error(dom: str) -> str | None:
    """The message of the first script error, as the listener recorded it on <html>."""
    found = re.search(rf'<html[^>]*\b{ERROR_MARKER}="([^"]*)"', dom)
    return found[1] if found else None


def png_pixels(png: bytes) -> np.ndarray:
    """The decompressed scanlines of a PNG (filter bytes included): enough to tell blank from drawn."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return np.frombuffer(zlib.decompress(idat), dtype=np.uint8)


def test_every_figure_renders_in_headless_chromium(tmp_path: Path) -> None:
    html = build_report("ctr", realistic_status(), [evaluation()])
    assert html.count("<script") < 20 and len(html) > 3_000_000, "plotly.js is inlined once"
    assert not re.search(r"<script[^>]*\bsrc=", html), "no script is loaded from elsewhere: the page works offline"
    dom = rendered_dom(html, tmp_path)
    assert js_error(dom) is None
    plots = re.findall(r'<div id="figure-(\d+)" class="[^"]*js-plotly-plot', dom)
    assert sorted(map(int, plots)) == list(range(FIGURES)), "each figure's div became a plotly plot"
    assert dom.count('class="main-svg"') >= FIGURES
    # Data was drawn: the canary's 8 looks are 8 markers, the quality bars 30 bars.
    assert dom.count('class="point"') >= 8 + 30
    assert "No canary yet" not in dom


def test_screenshot_is_not_blank(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(build_report("ctr", realistic_status(), [evaluation()]), encoding="utf-8")
    shot = tmp_path / "shot.png"
    browse(page, tmp_path, f"--screenshot={shot}")
    pixels = png_pixels(shot.read_bytes())
    assert pixels.size > 1_000_000
    assert np.unique(pixels).size > 32, "a blank page has a handful of byte values; plots have many"


def test_missing_parts_get_a_note_not_a_crash(tmp_path: Path) -> None:
    html = build_report("fresh", ClickModelStatus())
    for note in ("No canary yet.", "No quality data yet.", "No release decision yet.", "No daily measurements yet"):
        assert note in html
    assert "js-plotly-plot" not in html and "plotly.js" not in html[:2000]
    no_looks = realistic_status().model_copy(update={"canary": CanaryStatus(version="v3")})
    html = build_report("ctr", no_looks)
    assert "The canary of v3 has no analysis yet." in html
    dom = rendered_dom(html, tmp_path)
    assert js_error(dom) is None
    assert len(re.findall(r'id="figure-\d+" class="[^"]*js-plotly-plot', dom)) == FIGURES - 1


def test_user_text_is_escaped(tmp_path: Path) -> None:
    status = realistic_status(message=HOSTILE)
    status.history[0].version = HOSTILE
    status.canary.looks[0].message = HOSTILE  # type: ignore[union-attr]
    html = build_report(HOSTILE, status)
    assert '<script>alert("x")' not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&lt;b&gt;" in html
    dom = rendered_dom(html, tmp_path)
    assert js_error(dom) is None
    body = re.sub(r"<(script|style)\b.*?</\1>", "", dom.split("<body", 1)[1], flags=re.S)  # the page's own code
    assert "<script" not in body and "font-weight:bold" not in body, "no markup from user text"
    shown = body.count('&lt;script&gt;alert("x")&lt;/script&gt;&amp;&lt;b&gt;')
    assert shown >= 4, "shown as typed: the title, the history table and plot, the canary table"


def test_cli_writes_the_report_from_a_status_file(tmp_path: Path) -> None:
    obj = {
        "apiVersion": "clickcast.io/v1alpha1",
        "kind": "ClickModel",
        "metadata": {"name": "ctr", "namespace": "ads", "uid": "1234"},
        "spec": {
            "data": {"url": "s3://bucket/offers"},
            "store": {"url": "s3://bucket/models"},
            "canary": {"maxDevianceIncrease": 0.05},
        },
        "status": realistic_status().to_wire(),
    }
    model_file = tmp_path / "ctr.yaml"
    model_file.write_text(yaml.safe_dump(obj), encoding="utf-8")
    run_dir = tmp_path / "evaluations" / "run-1"
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text(evaluation().model_dump_json(by_alias=True), encoding="utf-8")
    out = tmp_path / "out" / "report.html"

    result = CliRunner().invoke(
        app, ["report", "--status-file", str(model_file), "--evaluation", str(run_dir), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "ClickModel ctr" in html
    assert "1 + δ = 1.050" in html, "the spec's margin is drawn"
    assert "v3 (canary)" in html, "the evaluation's daily series is plotted"
    dom = rendered_dom(html, tmp_path)
    assert len(re.findall(r'id="figure-\d+" class="[^"]*js-plotly-plot', dom)) == FIGURES

    # A bare status (as `clickcast run` keeps it) needs the NAME; JSON works as well as YAML.
    status_file = tmp_path / "status.json"
    status_file.write_text(json.dumps(realistic_status().to_wire()), encoding="utf-8")
    result = CliRunner().invoke(app, ["report", "--status-file", str(status_file), "-o", str(out)])
    assert result.exit_code == 2 and "give the ClickModel's NAME" in result.output
    result = CliRunner().invoke(app, ["report", "ctr", "--status-file", str(status_file), "-o", str(out)])
    assert result.exit_code == 0, result.output

    # From a model store: every evaluation run of the model found under <store>/evaluations/<name>/.
    stored = tmp_path / "store" / "evaluations" / "ctr" / "ctr-canary-v3-1"
    stored.mkdir(parents=True)
    (stored / "metrics.json").write_text(evaluation().model_dump_json(by_alias=True), encoding="utf-8")
    result = CliRunner().invoke(app, ["report", "--status-file", str(model_file), "--store",
                                      f"file://{tmp_path / 'store'}", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "v3 (canary)" in out.read_text(encoding="utf-8")

    bad = tmp_path / "bad.yaml"
    bad.write_text("status: {phase: Exploding}\nkind: ClickModel\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["report", "--status-file", str(bad), "-o", str(out)])
    assert result.exit_code == 2 and "not a valid ClickModel status" in result.output


def test_the_command_line_starts_without_plotly() -> None:
    # plotly is in the `report` extra; the operator's image runs `clickcast operator` without it.
    code = "import sys, clickcast.cli.main; sys.exit('plotly' in sys.modules or 'clickcast.report' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def demo_story() -> ClickModelStatus:
    """What `make demo` tells, run by the lifecycle core against the simulated world: a first version serves,
    its quality drops, the retrained version passes a shadow canary and is promoted, and its first quality
    evaluation finds it healthy."""
    world = core_world.World(quality_ratio=1.6, canary_ratio=0.9, paired=True)
    spec = core_world.spec(**{"canary.mode": "shadow", "canary.interval": "1h", "monitoring.interval": "1h",
                              "monitoring.autoRetrain": True})  # fmt: skip
    status, now = ClickModelStatus(), core_world.NOW
    for _ in range(100):
        plan = decide(core_world.NAME, spec, status, world.observe(status), now)
        world.apply(plan, None)
        status, now = plan.status, now + timedelta(minutes=20)
        if len(status.history) == 2:
            world.quality_ratio = 1.0  # the new version fits the moved market
            if status.monitoring is not None and status.monitoring.state is QualityState.HEALTHY:
                return status
    raise AssertionError(f"the story did not end: {status.phase}, {[h.reason for h in status.history]}")


def test_after_the_demo_story_the_page_shows_the_canary_that_passed_and_a_healthy_stable(tmp_path: Path) -> None:
    status = demo_story()
    promoted = status.history[0]
    assert status.canary is None and promoted.canary is not None, "the live canary is gone; history keeps it"
    dom = rendered_dom(build_report(core_world.NAME, status), tmp_path)
    assert js_error(dom) is None
    assert "No canary yet" not in dom and "No canary running." in dom
    assert f"Canary of {promoted.version}: Pass, Promoted (CanaryPassed)" in dom
    assert dom.count('class="point"') >= len(promoted.canary.looks), "its looks are drawn"
    summary = dom.split("<section", 1)[0]
    assert "quality: <b>Healthy</b>" in summary and f"stable: <b>{promoted.version}</b>" in summary
    assert "DevianceDrop" not in summary, "the replaced version's drop is not the new stable's condition"
    assert f"replaced {status.history[1].version} (its quality: Drop)" in dom, "but it stays in the history"
