"""The `clickcast` command line (typer)."""
