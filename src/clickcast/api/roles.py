"""The roles a served model version plays: one spelling for the prediction log, the services and the operator."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    STABLE = "stable"
    """The version serving production traffic."""
    CANARY = "canary"
    """The candidate answering a share of requests (split mode), or receiving mirrored copies (shadow mode)."""
    SHADOW = "shadow"
    """Per request, not per process: the candidate's prediction of a mirrored request, answered to nobody."""


SERVED_ROLES = (Role.STABLE, Role.CANARY)
"""Roles a serving process (a Deployment) runs as."""
