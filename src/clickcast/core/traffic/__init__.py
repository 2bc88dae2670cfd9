"""Canary modes as traffic strategies: one module per mode, chosen here (the only place that knows them all)."""

from __future__ import annotations

from clickcast.api.spec import Canary, CanaryMode
from clickcast.core.traffic.base import TrafficStrategy, stable_deploy
from clickcast.core.traffic.shadow import Shadow
from clickcast.core.traffic.split_replicas import SplitByReplicas
from clickcast.core.traffic.split_route import SplitByRoute

SHADOW, SPLIT_BY_REPLICAS, SPLIT_BY_ROUTE = Shadow(), SplitByReplicas(), SplitByRoute()


def strategy(canary: Canary) -> TrafficStrategy:
    """The strategy of a canary spec. Split is by HTTPRoute with a gateway, else by replicas."""
    if canary.mode is CanaryMode.SHADOW:
        return SHADOW
    return SPLIT_BY_ROUTE if canary.gateway is not None else SPLIT_BY_REPLICAS


__all__ = ["SHADOW", "SPLIT_BY_REPLICAS", "SPLIT_BY_ROUTE", "TrafficStrategy", "stable_deploy", "strategy"]
