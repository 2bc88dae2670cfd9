"""`build_report`: a ClickModel's status and evaluations as one self-contained HTML page."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import plotly.graph_objects as go
import plotly.io as pio

from clickcast.analysis.evidence import EvaluationReport
from clickcast.api.spec import Canary as CanarySpec
from clickcast.api.spec import ClickModelSpec, Monitoring
from clickcast.api.status import CanaryStatus, ClickModelStatus, Metrics
from clickcast.report import figures
from clickcast.report.figures import text

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
p.none { color: #777; font-style: italic; } .meta { color: #555; }
"""


def _num(value: float | int | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.{digits}g}"


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """An HTML table; every cell escaped, numbers right-aligned."""
    head = "".join(f"<th>{text(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{text(c)}</td>' if isinstance(c, int | float) else f"<td>{text(c)}</td>" for c in row
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


class _Page:
    """Sections in order; plotly.js is inlined once, with the first figure, so the page works offline."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.figures = 0

    def section(self, title: str, fig: go.Figure | None, missing: str, *extra: str) -> None:
        self.parts.append(f"<section><h2>{text(title)}</h2>")
        if fig is None:
            self.parts.append(f'<p class="none">{text(missing)}</p>')
        else:
            self.parts.append(
                pio.to_html(fig, full_html=False, include_plotlyjs=self.figures == 0, div_id=f"figure-{self.figures}")
            )
            self.figures += 1
        self.parts.extend(extra)
        self.parts.append("</section>")


def _metrics_table(rows: Sequence[tuple[str, str, Metrics]]) -> str:
    return _table(
        ["version", "segment", "rows", "Poisson deviance", "MAE", "RMSE", "calibration", "margin / 1000"],
        (
            [v, s, m.rows, _num(m.poisson_deviance), _num(m.mae), _num(m.rmse), _num(m.calibration), _num(m.margin)]
            for v, s, m in rows
        ),
    )


def _looks_table(canary: CanaryStatus | None) -> str:
    if canary is None or not canary.looks:
        return ""
    return _table(
        ["look", "time", "weight %", "candidate offer-days", "ratio", "low", "high", "verdict", "message"],
        (
            [
                k.look,
                f"{k.time:%Y-%m-%d %H:%M}",
                k.weight,
                k.candidate_observations,
                _num(k.deviance_ratio),
                _num(k.ratio_low),
                _num(k.ratio_high),
                k.verdict,
                k.message,
            ]
            for k in canary.looks
        ),
    )


def _summary(name: str, status: ClickModelStatus) -> str:
    facts = [
        ("phase", f"{status.phase}" + (f" since {status.phase_since:%Y-%m-%d %H:%M}" if status.phase_since else "")),
        ("stable", status.stable.version if status.stable else "none"),
        ("candidate", status.candidate.version if status.candidate else "none"),
        ("quality", status.monitoring.state if status.monitoring else "not tracked yet"),
    ]
    conditions = (
        _table(
            ["condition", "status", "reason", "message", "since"],
            (
                [c.type, c.status, c.reason, c.message, f"{c.last_transition_time:%Y-%m-%d %H:%M}"]
                for c in status.conditions
            ),
        )
        if status.conditions
        else ""
    )
    return (
        f"<h1>ClickModel {text(name)}</h1>"
        + '<p class="meta">'
        + " · ".join(f"{text(k)}: <b>{text(v)}</b>" for k, v in facts)
        + "</p>"
        + conditions
    )


def build_report(
    name: str,
    status: ClickModelStatus,
    evaluations: Sequence[EvaluationReport] = (),
    spec: ClickModelSpec | None = None,
) -> str:
    """One HTML page (plotly.js inlined: it opens offline) on a ClickModel: daily predictions against real clicks,
    metrics per version and segment, the looks of the running canary and of every past one (kept in the history
    entries), the quality series and the release history.

    Pure: no I/O. Without `spec` the limits drawn (1 + δ, drop limit, CUSUM threshold) are the defaults. Missing
    parts (no canary, no monitoring yet) get a note instead of a figure.
    """
    canary_spec = spec.canary if spec else CanarySpec()
    monitoring_spec = spec.monitoring if spec else Monitoring()
    page = _Page()

    page.section(
        "Predicted vs real clicks per day",
        figures.daily_figure(evaluations, status.monitoring),
        "No daily measurements yet (no evaluation report and no monitoring data).",
    )

    rows = figures.metric_rows(status.stable, status.candidate)
    page.section(
        "Metrics per version and segment",
        figures.metrics_figure(rows),
        "No version has test-window metrics yet.",
        _metrics_table(rows) if rows else "",
    )

    canary = status.canary
    past = [h for h in status.history if h.canary is not None]  # every ended canary, newest first
    page.section(
        "Canary",
        figures.canary_figure(canary, canary_spec),
        ("No canary running." if past else "No canary yet.")
        if canary is None
        else f"The canary of {canary.version} has no analysis yet.",
        _looks_table(canary),
    )
    for h in past:
        assert h.canary is not None
        page.section(
            f"Canary of {h.version}: {h.canary.verdict}, {h.decision} ({h.reason}) {h.time:%Y-%m-%d %H:%M}",
            figures.canary_figure(h.canary, canary_spec),
            f"The canary of {h.version} ended before its first analysis.",
            _looks_table(h.canary),
        )

    mon = status.monitoring
    quality = (
        f'<p class="meta">state <b>{text(mon.state)}</b> · reference deviance {_num(mon.reference_deviance)} · '
        f"recent ratio {_num(mon.deviance_ratio)} · CUSUM {_num(mon.cusum)} · evaluated through "
        f"{text(mon.evaluated_through or '-')}</p>"
        if mon
        else ""
    )
    page.section(
        "Quality over time",
        figures.quality_figure(mon, monitoring_spec),
        "No quality data yet.",
        quality,
    )

    history = (
        _table(
            ["time", "version", "decision", "reason", "message", "commit"],
            (
                [f"{h.time:%Y-%m-%d %H:%M}", h.version, h.decision, h.reason, h.message, h.git_commit or ""]
                for h in status.history
            ),
        )
        if status.history
        else ""
    )
    page.section("Decision history", figures.history_figure(status.history), "No release decision yet.", history)

    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>clickcast report: {text(name)}</title><style>{STYLE}</style></head>"
        f"<body>{_summary(name, status)}{''.join(page.parts)}</body></html>\n"
    )
