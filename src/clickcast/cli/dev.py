"""`clickcast dev cluster up|down|status|kubeconfig`: the local control plane.

kwok and binaries are light (the option defaults need kwok); the workload runner brings kubernetes (the
`devcluster` extra), so only the commands that run pods import it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from clickcast.cli.errors import fail, stderr
from clickcast.devcluster import binaries, kwok
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
        bool | None,
        typer.Option(
            "--workloads/--no-workloads",
            help="Run pods as local processes (the workload runner) or fake them Running and Ready. "
            "Default: a new cluster runs them; an existing one stays as it was created.",
            show_default=False,
        ),
    ] = None,
    runtime: Annotated[
        str | None,
        typer.Option(
            help="How the workload runner runs pods: `processes` (this checkout's, fast) or `containers` (each "
            "from its image with podman and runc; `make images` first). Default: processes, or what the "
            "cluster was brought up with.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Build the binaries if needed (once), start the cluster (and its workload runner); print its kubeconfig path."""
    with user_errors():
        binaries.kubectl()
        path = kwok.up(name, bin_dir(), nodes=nodes, wait_seconds=wait, say=say, workloads=run_workloads)
        if kwok.has_workloads(name):
            from clickcast.devcluster import workloads  # noqa: PLC0415 - see the module docstring

            if runtime is not None:
                if workloads.running_pid(name) is not None and runtime != workloads.runtime(name):
                    fail(f"cluster {name} runs pods as {workloads.runtime(name)}: `down` it first", code=1)
                workloads.choose_runtime(name, runtime)
            argv = [sys.executable, "-m", "clickcast.cli.main", "dev", "cluster", "workloads", "--name", name]
            pid = workloads.start(name, argv)
            say(f"workload runner: pid {pid}, pod logs in {workloads.state_dir(name)}")
    typer.echo(path)


@cluster.command()
def down(name: Name = kwok.DEFAULT_NAME) -> None:
    """Stop the cluster's processes (the workload runner's and its pods' too) and delete its state."""
    from clickcast.devcluster import workloads  # noqa: PLC0415 - see the module docstring

    with user_errors():
        if workloads.stop(name):
            say("workload runner stopped")
        kwok.down(name, bin_dir(), say=say)


@cluster.command()
def logs(
    pod: Annotated[str, typer.Argument(help="Pod name.")],
    namespace: Annotated[str, typer.Option("--namespace", "-n", help="The pod's namespace.")] = "default",
    name: Name = kwok.DEFAULT_NAME,
    path_only: Annotated[bool, typer.Option("--path", help="Print the log file's path instead.")] = False,
) -> None:
    """Print a pod's output, as the workload runner wrote it (`kubectl logs` needs a kubelet)."""
    from clickcast.devcluster import workloads  # noqa: PLC0415 - see the module docstring

    path = workloads.pod_log(kwok.check_name(name), namespace, pod)
    if path_only:
        typer.echo(path)
        return
    if not path.is_file():
        fail(f"no log of pod {namespace}/{pod} (the workload runner writes them to {path.parent})", code=1)
    typer.echo(path.read_text(errors="replace"), nl=False)


@cluster.command("workloads")
def run_workload_runner(name: Name = kwok.DEFAULT_NAME) -> None:
    """Run the workload runner in the foreground (`up` starts it detached): every pod as local processes."""
    from clickcast.devcluster import workloads  # noqa: PLC0415 - see the module docstring

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


objectstore = typer.Typer(help="A local S3-compatible store (MinIO, built once from its Go module).",
                          no_args_is_help=True)  # fmt: skip
dev.add_typer(objectstore, name="objectstore")
Directory = Annotated[Path, typer.Option("--dir", help="Its data, credentials and pid file.")]


@objectstore.command("up")
def objectstore_up(
    directory: Directory,
    bucket: Annotated[list[str] | None, typer.Option(help="Buckets to make (default: clickcast).")] = None,
) -> None:
    """Start MinIO on a free loopback port, detached; write its credentials under DIR/credentials (one file per
    storage option, as a storageOptionsSecret holds them); print its endpoint."""
    from clickcast.devcluster import objectstore as store  # noqa: PLC0415 - s3fs, only here

    with user_errors():
        store.down(directory)
        server = store.up(directory, tuple(bucket or ("clickcast",)))
    say(f"MinIO at {server.endpoint_url}, credentials in {directory / store.CREDENTIALS}")
    typer.echo(server.endpoint_url)


gitserver = typer.Typer(help="A local Git remote over smart HTTP with basic auth (git http-backend), for GitOps.",
                        no_args_is_help=True)  # fmt: skip
dev.add_typer(gitserver, name="gitserver")


@gitserver.command("up")
def gitserver_up(directory: Directory) -> None:
    """Start a Git server on a free loopback port, detached, serving DIR/releases.git (created empty, branch main);
    write the credentials a GitOps secretRef Secret holds under DIR/credentials; print the repository URL."""
    from clickcast.devcluster import gitserver as git  # noqa: PLC0415

    with user_errors():
        git.down(directory)
        url = git.up(directory)
    say(f"Git server at {url}, credentials in {directory / git.CREDENTIALS}")
    typer.echo(url)


@gitserver.command("down")
def gitserver_down(directory: Directory) -> None:
    """Stop the Git server `up` started with this DIR (the repository stays)."""
    from clickcast.devcluster import gitserver as git  # noqa: PLC0415

    say("Git server stopped" if git.down(directory) else f"no Git server running from {directory}")


@objectstore.command("down")
def objectstore_down(directory: Directory) -> None:
    """Stop the MinIO `up` started with this DIR (its data stays)."""
    from clickcast.devcluster import objectstore as store  # noqa: PLC0415

    say("MinIO stopped" if store.down(directory) else f"no MinIO running from {directory}")
