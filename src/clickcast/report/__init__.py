"""HTML reports on a ClickModel, from its status and evaluation reports (no cluster access: the CLI fetches)."""

from clickcast.report.page import build_report

__all__ = ["build_report"]
