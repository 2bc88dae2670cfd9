"""The benchmarks reuse the test suite's fixtures (the local control plane for the operator benchmark)."""

from tests.k8s.conftest import kube, namespace

__all__ = ["kube", "namespace"]
