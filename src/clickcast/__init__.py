"""clickcast: a Kubernetes-native ML operator for click prediction."""

__version__ = "0.1.0"
