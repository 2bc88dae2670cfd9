"""The Spark jobs: synthetic data, training, batch scoring and evaluation.

Modules that need pyspark import it themselves; `window`, `submit` and
`generate` do not, so the operator can plan a run without Spark installed.
"""
