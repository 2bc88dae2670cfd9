"""Entry point of the `clickcast` command.

Subcommands are imported when they run (cli/lazy.py): `clickcast validate` must not pay for the operator,
the dev cluster or Spark's helpers. Their short help is kept here so `clickcast --help` imports none of them.
"""

from __future__ import annotations

from typing import ClassVar

import typer

from clickcast import __version__
from clickcast.cli.lazy import Lazy, LazyGroup


class Commands(LazyGroup):
    lazy: ClassVar[dict[str, Lazy]] = {
        "validate": Lazy(
            "clickcast.cli.manifests:validate",
            "Check ClickModel manifests offline with the same rules as the CRD.",
        ),
        "crd": Lazy(
            "clickcast.cli.manifests:crd",
            "Print the ClickModel CustomResourceDefinition generated from the API models.",
        ),
        "reference": Lazy(
            "clickcast.cli.manifests:reference",
            "Print the configuration reference (Markdown) generated from the API models.",
        ),
        "data": Lazy(
            "clickcast.cli.jobs:data_app",
            "Click datasets.",
        ),
        "train": Lazy(
            "clickcast.cli.jobs:train",
            "Train a model version on Spark, publish it to the store and print its metrics beside the baseline's.",
        ),
        "score": Lazy(
            "clickcast.cli.jobs:score",
            "Batch predictions for a dataset, written to parquet with the model version.",
        ),
        "evaluate": Lazy(
            "clickcast.cli.jobs:evaluate",
            "Join predictions with real clicks; write per-version and per-segment metrics (and a canary comparison).",
        ),
        "dev": Lazy(
            "clickcast.cli.dev:dev",
            "Developer tools.",
        ),
        "canary": Lazy(
            "clickcast.cli.canary:canary_app",
            "The canary's sequential test, offline.",
        ),
        "serve": Lazy(
            "clickcast.cli.serve:serve",
            "Serve one model version over HTTP (BentoML); stays up but unready if the model is missing or corrupt.",
        ),
        "operator": Lazy(
            "clickcast.cli.operator:operator",
            "Run the operator: reconcile ClickModels into trainings, validations, rollouts and promotions.",
        ),
        "run": Lazy(
            "clickcast.cli.run:run",
            "Run a ClickModel's lifecycle here: train, validate, canary, promote, monitor, with local processes.",
        ),
        "demo": Lazy(
            "clickcast.cli.demo:demo",
            "Train, serve, retrain on a moved market, shadow-canary, promote through Git, report: one ClickModel.",
        ),
        "report": Lazy(
            "clickcast.cli.report:report",
            "Write one self-contained HTML page on a ClickModel: daily predictions against real clicks, metrics "
            "per version and segment, the canary's looks, quality over time and the release history. It opens offline.",
        ),
    }


app = typer.Typer(
    name="clickcast",
    cls=Commands,
    help="Train, validate, canary and promote click-prediction models on Kubernetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


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
