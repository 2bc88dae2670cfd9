"""Data contract and feature encoding shared by training (Spark) and serving (pandas/numpy)."""
