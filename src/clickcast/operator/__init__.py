"""The Kubernetes operator: the kopf shell around the lifecycle core (clickcast.core).

Only `clickcast.operator.handlers` registers kopf handlers; only the modules named in pyproject's
import contracts talk to the Kubernetes API.
"""
