"""What every shell around the lifecycle core shares: the Kubernetes operator and the embedded `clickcast run`.

Reading the outcome of runs from the store (published versions, evaluation reports), checking that a spec's
URLs have filesystems here, and scraping a serving workload's own metrics for the canary's guardrails.
"""
