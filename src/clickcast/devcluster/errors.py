"""The one exception the dev-cluster code raises for problems a user can fix."""

from __future__ import annotations


class DevClusterError(Exception):
    """Printed as one line by the CLI (missing Go, a cluster that will not start...)."""
