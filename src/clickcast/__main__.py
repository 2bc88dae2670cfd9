"""`python -m clickcast`: the CLI with this interpreter (the embedded runner starts its runs this way)."""

from clickcast.cli.main import app

app()
