"""How one serving workload takes part in traffic: what the core asks of a role, whatever runs it."""

from __future__ import annotations

from enum import StrEnum


class Traffic(StrEnum):
    """A role's part in traffic. `Deploy` asks for one, `Rollout` reports one; each shell maps it once (the
    operator keeps it in the Deployment's `clickcast.io/traffic` annotation, `clickcast run` in its endpoints)."""

    OWN = "own"
    """Only its own Service's requests (stable: the public Service; canary: what is mirrored or routed to it)."""
    MIRROR = "mirror"
    """Stable in a shadow canary: also copies each request to the canary's Service."""
    SHARE = "share"
    """Canary in a split by replicas: also behind the stable Service, answering its replica share."""
