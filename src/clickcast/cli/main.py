"""Entry point of the `clickcast` command."""

from __future__ import annotations

import typer

from clickcast import __version__
from clickcast.cli import canary, demo, dev, jobs, manifests, report, run, serve
from clickcast.cli.operator import operator

app = typer.Typer(
    name="clickcast",
    help="Train, validate, canary and promote click-prediction models on Kubernetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(manifests.validate)
app.command()(manifests.crd)
app.command()(manifests.reference)
app.add_typer(jobs.data_app, name="data")
app.command()(jobs.train)
app.command()(jobs.score)
app.command()(jobs.evaluate)
app.add_typer(dev.dev, name="dev")
app.add_typer(canary.canary_app, name="canary")
app.command()(serve.serve)
app.command()(operator)
app.command()(run.run)
app.command()(demo.demo)
app.command()(report.report)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"clickcast {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """clickcast: a Kubernetes-native ML operator for click prediction."""


if __name__ == "__main__":
    app()
