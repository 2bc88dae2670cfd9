"""A published model version, loaded for prediction (no Spark needed)."""
