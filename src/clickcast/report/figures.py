"""One plotly figure per report section, built from status and evaluation reports; None when there is no data.

Text from the user's objects (versions, segment values, reasons) is HTML-escaped before plotly sees it:
plotly.js renders a subset of HTML in labels, and the escaped text displays as typed.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Sequence
from datetime import date

import plotly.graph_objects as go
from plotly import colors
from plotly.subplots import make_subplots

from clickcast.analysis.evidence import EvaluationReport
from clickcast.analysis.quality import assess_quality
from clickcast.api.spec import Canary, Monitoring
from clickcast.api.status import (
    CanaryStatus,
    HistoryEntry,
    Metrics,
    ModelVersionStatus,
    MonitoringStatus,
    ReleaseOutcome,
)

HEIGHT = 420
OUTCOME_COLORS = {
    ReleaseOutcome.PROMOTED: "#2ca02c",
    ReleaseOutcome.ROLLED_BACK: "#d62728",
    ReleaseOutcome.REJECTED: "#ff7f0e",
    ReleaseOutcome.FAILED: "#7f7f7f",
}


def text(value: object) -> str:
    return html.escape(str(value))


def _layout(fig: go.Figure, title: str, **kwargs: object) -> go.Figure:
    fig.update_layout(**{"height": HEIGHT, "margin": {"t": 60, "l": 60, "r": 30, "b": 50}, "title": title, **kwargs})
    return fig


def _two_panels(top: str, bottom: str) -> go.Figure:
    """Two panels over one shared time axis."""
    return make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=(top, bottom))


def daily_figure(evaluations: Sequence[EvaluationReport], monitoring: MonitoringStatus | None) -> go.Figure | None:
    """Per day and version: predicted / real clicks (calibration) above, mean Poisson deviance below."""
    series: dict[str, list[tuple[date, Metrics]]] = defaultdict(list)
    for report in evaluations:
        for d in report.daily:
            series[f"{d.model_version} ({d.role})"].append((date.fromisoformat(d.date[:10]), d.metrics))
    for q in monitoring.daily if monitoring else []:
        m = Metrics(rows=q.rows, poisson_deviance=q.deviance, calibration=q.calibration)
        series[f"{q.version} (monitoring)"].append((q.day, m))
    if not series:
        return None
    fig = _two_panels("predicted / real clicks (1 = calibrated)", "mean Poisson deviance")
    palette = colors.qualitative.Plotly
    for i, (name, points) in enumerate(sorted(series.items())):
        points.sort(key=lambda p: p[0])
        days = [p[0].isoformat() for p in points]
        rows = [p[1].rows for p in points]
        group = text(name)
        common = {
            "x": days,
            "customdata": rows,
            "legendgroup": group,
            "mode": "lines+markers",
            "line": {"color": palette[i % len(palette)]},
        }  # one colour per series in both panels
        fig.add_trace(
            go.Scatter(
                y=[p[1].calibration for p in points],
                name=group,
                hovertemplate="%{x}: %{y:.3f} (%{customdata} rows)",
                **common,
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                y=[p[1].poisson_deviance for p in points],
                name=group,
                showlegend=False,
                hovertemplate="%{x}: %{y:.4f} (%{customdata} rows)",
                **common,
            ),
            row=2,
            col=1,
        )
    fig.add_hline(y=1.0, line_dash="dot", line_color="grey", row=1, col=1)
    return _layout(fig, "Predicted vs real clicks per day", height=HEIGHT + 160)


def metric_rows(
    stable: ModelVersionStatus | None, candidate: ModelVersionStatus | None
) -> list[tuple[str, str, Metrics]]:
    """(version label, segment label, metrics) of every measured version and segment, stable first."""
    out: list[tuple[str, str, Metrics]] = []
    for role, v in (("stable", stable), ("candidate", candidate)):
        if v is None:
            continue
        label = f"{v.version} ({role})"
        if v.metrics is not None:
            out.append((label, "all", v.metrics))
        if v.baseline_metrics is not None:
            out.append((f"{v.version} GLM baseline", "all", v.baseline_metrics))
        out.extend((label, f"{s.column}={s.value}", s.metrics) for s in v.segments)
    return out


def metrics_figure(rows: Sequence[tuple[str, str, Metrics]]) -> go.Figure | None:
    """Mean Poisson deviance per segment, one bar per version (lower is better)."""
    measured = [r for r in rows if r[2].poisson_deviance is not None]
    if not measured:
        return None
    fig = go.Figure()
    for version in dict.fromkeys(r[0] for r in measured):
        mine = [r for r in measured if r[0] == version]
        fig.add_trace(
            go.Bar(
                x=[text(r[1]) for r in mine],
                y=[r[2].poisson_deviance for r in mine],
                customdata=[r[2].rows for r in mine],
                name=text(version),
                hovertemplate="%{x}: %{y:.4f} (%{customdata} rows)",
            )
        )
    fig.update_yaxes(title="mean Poisson deviance (lower is better)")
    return _layout(fig, "Test-window deviance per version and segment", barmode="group")


def canary_figure(canary: CanaryStatus | None, spec: Canary) -> go.Figure | None:
    """The deviance ratio (candidate / stable) after each look, its confidence sequence, and 1 + δ."""
    looks = [look for look in canary.looks if look.deviance_ratio is not None] if canary else []
    if not looks:
        return None
    ratio = [look.deviance_ratio or 0.0 for look in looks]
    high = [look.ratio_high if look.ratio_high is not None else r for look, r in zip(looks, ratio, strict=True)]
    low = [look.ratio_low if look.ratio_low is not None else r for look, r in zip(looks, ratio, strict=True)]
    x = [look.look for look in looks]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x + x[::-1],
            y=high + low[::-1],
            fill="toself",
            fillcolor="rgba(31,119,180,0.2)",
            line={"width": 0},
            hoverinfo="skip",
            name="confidence sequence",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=ratio,
            mode="lines+markers",
            name="deviance ratio",
            customdata=[
                [text(look.verdict), look.weight, look.candidate_observations, text(look.message)] for look in looks
            ],
            hovertemplate="look %{x}: %{y:.3f}<br>%{customdata[0]}, weight %{customdata[1]}%, "
            "%{customdata[2]} candidate offer-days<br>%{customdata[3]}<extra></extra>",
        )
    )
    limit = 1.0 + spec.non_inferiority_margin
    fig.add_hline(y=limit, line_dash="dash", line_color="#d62728", annotation_text=f"1 + δ = {limit:.3f}")
    fig.add_hline(y=1.0, line_dash="dot", line_color="grey")
    fig.update_xaxes(title="look", dtick=1)
    fig.update_yaxes(title="candidate / stable deviance")
    return _layout(fig, f"Canary {text(canary.version) if canary else ''}: deviance ratio by look")


def quality_figure(monitoring: MonitoringStatus | None, spec: Monitoring) -> go.Figure | None:
    """Each day's deviance ratio against the drop limit, and the erosion CUSUM against its threshold.

    The CUSUM is recomputed for every day from the days kept in status, as the detector saw it that day.
    """
    days = [d for d in monitoring.daily if d.ratio is not None] if monitoring else []
    if not monitoring or not days:
        return None
    reference = monitoring.reference_deviance
    cusums = []
    for t, d in enumerate(days):
        a = assess_quality(days[: t + 1], reference, spec, version=d.version) if reference else None
        cusums.append(a.cusum if a else None)
    fig = _two_panels("daily deviance / reference", "erosion CUSUM")
    x = [d.day.isoformat() for d in days]
    fig.add_trace(
        go.Bar(
            x=x,
            y=[d.ratio for d in days],
            name="daily ratio",
            customdata=[[text(d.version), d.rows] for d in days],
            hovertemplate="%{x}: %{y:.3f}<br>%{customdata[0]}, %{customdata[1]} rows<extra></extra>",
        ),
        row=1,
        col=1,
    )
    drop = 1.0 + spec.drop.increase_limit
    fig.add_hline(
        y=drop, line_dash="dash", line_color="#d62728", row=1, col=1, annotation_text=f"drop limit {drop:.2f}"
    )
    fig.add_trace(go.Scatter(x=x, y=cusums, mode="lines+markers", name="CUSUM"), row=2, col=1)
    fig.add_hline(
        y=spec.erosion.threshold,
        line_dash="dash",
        line_color="#ff7f0e",
        row=2,
        col=1,
        annotation_text=f"threshold {spec.erosion.threshold:g}",
    )
    return _layout(fig, f"Quality of the stable version: {text(monitoring.state)}", height=HEIGHT + 160)


def history_figure(history: Sequence[HistoryEntry]) -> go.Figure | None:
    """Release decisions over time, one marker per decision, coloured by outcome."""
    if not history:
        return None
    fig = go.Figure()
    for outcome, color in OUTCOME_COLORS.items():
        mine = sorted((h for h in history if h.decision is outcome), key=lambda h: h.time)
        if not mine:
            continue
        fig.add_trace(
            go.Scatter(
                x=[h.time.isoformat() for h in mine],
                y=[text(h.version) for h in mine],
                mode="markers",
                marker={"size": 14, "color": color, "symbol": "diamond"},
                name=str(outcome),
                customdata=[[text(h.reason), text(h.message)] for h in mine],
                hovertemplate="%{y}: %{customdata[0]}<br>%{customdata[1]}<extra></extra>",
            )
        )
    fig.update_yaxes(title="version", type="category")
    return _layout(fig, "Release decisions")
