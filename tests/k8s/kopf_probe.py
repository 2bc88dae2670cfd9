"""A one-handler kopf operator: proves the session cluster works with kopf.testing.KopfRunner."""

from __future__ import annotations

from typing import Any

import kopf


@kopf.on.create("clickcast.io", "v1alpha1", "clickmodels")
def seen(patch: kopf.Patch, **_: Any) -> None:
    patch.metadata.annotations["clickcast.io/seen-by"] = "kopf-probe"
