"""The three images, checked as far as a machine without Docker can: what they copy exists, their bases are
pinned, they install exactly uv.lock, they run as non-root, and what they start exists in the project.
The jobs image's entrypoint is run for real (with stub commands) to prove it dispatches as Spark's does."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
import typer.main

from clickcast.cli.main import app
from tests.manifests import ROOT

pytestmark = pytest.mark.unit

IMAGES = ["operator", "jobs", "serving"]
ENTRYPOINT_SH = ROOT / "jobs" / "entrypoint.sh"


@dataclass(frozen=True)
class Instruction:
    op: str
    args: str


def parse(name: str) -> list[Instruction]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    text = (ROOT / name / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            op, _, args = line.strip().partition(" ")
            out.append(Instruction(op.upper(), args.strip()))
    return out


def exec_form(instructions: list[Instruction], op: str) -> list[str]:
    (last,) = [i for i in instructions if i.op == op][-1:]
    value = json.loads(last.args)
    assert isinstance(value, list), f"{op} is not in exec form: {last.args}"
    return [str(v) for v in value]


@pytest.mark.parametrize("image", IMAGES)
def test_every_copied_path_exists(image: str) -> None:
    for copy in (i for i in parse(image) if i.op == "COPY"):
        words = [w for w in shlex.split(copy.args) if not w.startswith("--")]
        if copy.args.startswith("--from="):
            continue  # from another stage
        *sources, _dest = words
        for source in sources:
            assert (ROOT / source).exists(), f"{image}/Dockerfile copies {source}, which the repository lacks"


@pytest.mark.parametrize("image", IMAGES)
def test_base_images_are_pinned(image: str) -> None:
    """A full version tag (python:3.11.14-slim-bookworm) or a digest: never a floating 3.11-slim.

    The base is a build argument (hack/build-images.sh passes a Debian base built here): its default counts.
    """
    defaults = dict(i.args.split("=", 1) for i in parse(image) if i.op == "ARG" and "=" in i.args)
    assert defaults.get("BASE"), f"{image}: the base image is the build argument BASE, with a default"
    froms = [i.args.split() for i in parse(image) if i.op == "FROM"]
    stages = {f[2] for f in froms if len(f) == 3 and f[1].upper() == "AS"}
    for written in (f[0] for f in froms if f[0] not in stages):  # an earlier stage is no base
        base = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], written)
        assert "@sha256:" in base or re.search(r":\d+\.\d+\.\d+[-\w.]*$", base), f"{image}: unpinned base {base}"


@pytest.mark.parametrize("image", IMAGES)
def test_installs_come_from_uv_lock(image: str) -> None:
    runs = [i.args for i in parse(image) if i.op == "RUN"]
    syncs = [r for r in runs if "uv sync" in r]
    assert syncs and all("--frozen" in r for r in syncs), f"{image}: installs must be `uv sync --frozen`"
    assert all(f"--extra {image}" in r for r in syncs)
    for run in runs:
        for pip in re.findall(r"pip install ([^&;]*)", run):
            assert re.fullmatch(r"(--no-cache-dir )?(--break-system-packages )?'uv==[\d.]+'\s*", pip), (
                f"{image}: pip installs {pip!r}"
            )
    copies = " ".join(i.args for i in parse(image) if i.op == "COPY")
    assert "uv.lock" in copies


@pytest.mark.parametrize("image", IMAGES)
def test_runs_as_non_root(image: str) -> None:
    users = [i.args for i in parse(image) if i.op == "USER"]
    assert users and users[-1] not in {"root", "0"} and users[-1].split(":")[0] != "0"


def cli_commands() -> set[str]:
    group = typer.main.get_command(app)
    return set(group.list_commands(typer.Context(group)))  # type: ignore[attr-defined]


def test_operator_image_starts_a_real_cli_command() -> None:
    entry = exec_form(parse("operator"), "ENTRYPOINT")
    assert entry[0] == "clickcast" and entry[1] in cli_commands()
    assert "clickcast" in (ROOT / "pyproject.toml").read_text().split("[project.scripts]")[1].split("[")[0]


def test_serving_image_starts_the_service_its_files_define() -> None:
    instructions = parse("serving")
    cmd = exec_form(instructions, "CMD")
    assert cmd[:2] == ["bentoml", "serve"]
    module, _, cls = cmd[2].partition(":")
    assert f"serving/{module}.py" in " ".join(i.args for i in instructions if i.op == "COPY")
    assert re.search(rf"\b{cls}\b", (ROOT / "serving" / f"{module}.py").read_text())


def test_jobs_image_hands_spark_arguments_to_its_entrypoint() -> None:
    instructions = parse("jobs")
    entry = exec_form(instructions, "ENTRYPOINT")
    # tini must hand `executor`/`driver` to entrypoint.sh, not try to exec them itself.
    assert entry[:2] == ["/usr/bin/tini", "--"] and entry[2] == "/opt/clickcast/jobs/entrypoint.sh"
    assert any("jobs/entrypoint.sh" in i.args and "./jobs/" in i.args for i in instructions if i.op == "COPY")
    assert any(i.op == "WORKDIR" and i.args == "/opt/clickcast" for i in instructions)
    assert ENTRYPOINT_SH.stat().st_mode & stat.S_IXUSR
    for script in ("train", "score", "evaluate"):
        assert (ROOT / "jobs" / f"{script}.py").is_file()


def stub(directory: Path, name: str) -> None:
    """A command that prints its name and arguments, one per line."""
    path = directory / name
    path.write_text(f'#!/bin/sh\necho {name}\nfor a in "$@"; do echo "$a"; done\n')
    path.chmod(0o755)


@pytest.fixture
def spark_home(tmp_path: Path) -> Path:
    home = tmp_path / "spark"
    (home / "bin").mkdir(parents=True)
    (home / "jars").mkdir()
    stub(home / "bin", "spark-submit")
    stub(tmp_path, "java")
    return home


def run_entrypoint(args: list[str], env: dict[str, str]) -> list[str]:
    done = subprocess.run(["bash", str(ENTRYPOINT_SH), *args], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def base_env(spark_home: Path) -> dict[str, str]:
    return {"PATH": f"{spark_home.parent}:{os.environ['PATH']}", "SPARK_HOME": str(spark_home)}


def test_entrypoint_executor_starts_sparks_kubernetes_executor_backend(spark_home: Path) -> None:
    env = base_env(spark_home) | {
        "SPARK_DRIVER_URL": "spark://CoarseGrainedScheduler@10.0.0.5:7078",
        "SPARK_EXECUTOR_ID": "3",
        "SPARK_EXECUTOR_CORES": "2",
        "SPARK_APPLICATION_ID": "spark-app-1",
        "SPARK_EXECUTOR_POD_IP": "10.0.0.9",
        "SPARK_EXECUTOR_POD_NAME": "train-exec-3",
        "SPARK_EXECUTOR_MEMORY": "1g",
        "SPARK_RESOURCE_PROFILE_ID": "0",
        "SPARK_JAVA_OPT_10": "-Dten",
        "SPARK_JAVA_OPT_2": "-Dtwo=a b",
        "SPARK_CLASSPATH": "/extra/a.jar",
    }
    argv = run_entrypoint(["executor"], env)
    assert argv[0] == "java"  # the JVM, not a command named `executor`
    assert argv[1:3] == ["-Dtwo=a b", "-Dten"]  # SPARK_JAVA_OPT_<n> in numeric order, spaces kept
    assert argv[3:5] == ["-Xms1g", "-Xmx1g"]
    classpath = argv[argv.index("-cp") + 1].split(":")
    assert classpath == [f"{spark_home}/conf", "/extra/a.jar", f"{spark_home}/jars/*"]
    backend = argv.index("org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend")
    flags = dict(zip(argv[backend + 1 :: 2], argv[backend + 2 :: 2], strict=True))
    assert flags == {
        "--driver-url": "spark://CoarseGrainedScheduler@10.0.0.5:7078",
        "--executor-id": "3",
        "--cores": "2",
        "--app-id": "spark-app-1",
        "--hostname": "10.0.0.9",
        "--resourceProfileId": "0",
        "--podName": "train-exec-3",
    }


def test_entrypoint_driver_runs_spark_submit_in_client_mode(spark_home: Path) -> None:
    env = base_env(spark_home) | {"SPARK_DRIVER_BIND_ADDRESS": "10.0.0.7"}
    argv = run_entrypoint(["driver", "--class", "x", "local:///opt/clickcast/jobs/train.py"], env)
    assert argv == [
        "spark-submit",
        "--conf",
        "spark.driver.bindAddress=10.0.0.7",
        "--deploy-mode",
        "client",
        "--class",
        "x",
        "local:///opt/clickcast/jobs/train.py",
    ]


def test_entrypoint_passes_any_other_command_through(spark_home: Path) -> None:
    env = base_env(spark_home) | {"PATH": f"{spark_home / 'bin'}:{os.environ['PATH']}"}
    argv = run_entrypoint(["spark-submit", "--master", "k8s://https://api:6443", "/opt/clickcast/jobs/train.py"], env)
    assert argv == ["spark-submit", "--master", "k8s://https://api:6443", "/opt/clickcast/jobs/train.py"]


def smoke_check(image: str) -> str:
    """The build's last RUN, which must run as the image's final user (after the last USER)."""
    instructions = parse(image)
    last_user = max(n for n, i in enumerate(instructions) if i.op == "USER")
    runs = [i.args for i in instructions[last_user:] if i.op == "RUN"]
    assert runs, f"{image}: no smoke check after USER"
    return runs[-1]


def test_jobs_smoke_check_runs_every_entry_file_with_spark_submit() -> None:
    run = smoke_check("jobs")
    assert "spark-submit" in run and "--help" in run
    loop = re.search(r"for job in ([\w ]+); do", run)
    assert loop, run
    jobs = loop.group(1).split()
    assert sorted(jobs) == ["evaluate", "score", "train"]
    assert '"/opt/clickcast/jobs/$job.py"' in run  # where COPY puts them (WORKDIR /opt/clickcast, ./jobs/)
    copies = " ".join(i.args for i in parse("jobs") if i.op == "COPY")
    for job in jobs:
        assert f"jobs/{job}.py" in copies and (ROOT / "jobs" / f"{job}.py").is_file()


def test_operator_smoke_check_runs_its_entrypoint() -> None:
    entry = exec_form(parse("operator"), "ENTRYPOINT")
    assert shlex.split(smoke_check("operator"))[:3] == [*entry, "--help"]


def test_serving_smoke_check_imports_the_served_class() -> None:
    module, _, cls = exec_form(parse("serving"), "CMD")[2].partition(":")
    assert smoke_check("serving") == f'python -c "import {module}; {module}.{cls}"'
