"""`clickcast dev cluster up|down|status|kubeconfig`: the local control plane."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from clickcast.cli.errors import fail, stderr
from clickcast.devcluster import binaries, kwok, workloads
from clickcast.devcluster.errors import DevClusterError

dev = typer.Typer(help="Developer tools.", no_args_is_help=True)
cluster = typer.Typer(
    help="A real local Kubernetes control plane (kwok, binary runtime, RBAC on), built once from Go modules.",
    no_args_is_help=True,
)
dev.add_typer(cluster, name="cluster")

Name = Annotated[str, typer.Option("--name", envvar="CLICKCAST_CLUSTER", help="Cluster name.")]


def say(message: str) -> None:
    # Progress goes to stderr so that stdout stays a kubeconfig path for scripts.
    stderr.print(message, markup=False)


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except DevClusterError as exc:
        fail(str(exc), code=1)


def bin_dir() -> Path:
    return binaries.locate()


@cluster.command()
def up(
    name: Name = kwok.DEFAULT_NAME,
    nodes: Annotated[int, typer.Option(min=1, max=50, help="KWOK nodes to add.")] = kwok.DEFAULT_NODES,
    wait: Annotated[int, typer.Option(min=10, help="Seconds to wait for the cluster to be ready.")] = 120,
    run_workloads: Annotated[
        bool,
        typer.Option(
            "--workloads/--no-workloads",
            help="Run pods as local processes (the workload runner) instead of faking them Running and Ready.",
        ),
    ] = True,
) -> None:
    """Build the binaries if needed (once), start the cluster (and its workload runner); print its kubeconfig path."""
    with user_errors():
        binaries.kubectl()
        path = kwok.up(name, bin_dir(), nodes=nodes, wait_seconds=wait, say=say, workloads=run_workloads)
        if run_workloads:
            argv = [sys.executable, "-m", "clickcast.cli.main", "dev", "cluster", "workloads", "--name", name]
            pid = workloads.start(name, argv)
            say(f"workload runner: pid {pid}, pod logs in {workloads.state_dir(name)}")
    typer.echo(path)


@cluster.command()
def down(name: Name = kwok.DEFAULT_NAME) -> None:
    """Stop the cluster's processes (the workload runner's and its pods' too) and delete its state."""
    with user_errors():
        if workloads.stop(name):
            say("workload runner stopped")
        kwok.down(name, bin_dir(), say=say)


@cluster.command("workloads")
def run_workload_runner(name: Name = kwok.DEFAULT_NAME) -> None:
    """Run the workload runner in the foreground (`up` starts it detached): every pod as local processes."""
    with user_errors():
        workloads.serve(name)


@cluster.command()
def status(name: Name = kwok.DEFAULT_NAME) -> None:
    """Say whether the cluster exists and its API server is ready (exit 1 if not)."""
    with user_errors():
        st = kwok.status(name, bin_dir())
    if not st.exists:
        fail(f"no cluster named {name} (start it with `clickcast dev cluster up --name {name}`)", code=1)
    typer.echo(f"cluster {name}: {'ready' if st.ready else 'not ready'} ({st.detail}); kubeconfig {st.kubeconfig}")
    if not st.ready:
        raise typer.Exit(1)


@cluster.command()
def kubeconfig(name: Name = kwok.DEFAULT_NAME) -> None:
    """Print the cluster's kubeconfig path: `export KUBECONFIG=$(clickcast dev cluster kubeconfig)`."""
    with user_errors():
        path = kwok.kubeconfig_path(kwok.check_name(name))
    if not path.is_file():
        fail(f"no cluster named {name} (start it with `clickcast dev cluster up --name {name}`)", code=1)
    typer.echo(path)
