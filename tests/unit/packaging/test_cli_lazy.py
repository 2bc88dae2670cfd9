"""`clickcast --help` lists every command from the lazy table without importing them; each entry resolves."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
import typer.main
from typer.core import TyperGroup

from clickcast.cli.lazy import load
from clickcast.cli.main import Commands, app

pytestmark = pytest.mark.unit

HEAVY = [
    "kubernetes",
    "kopf",
    "pyspark",
    "bentoml",
    "clickcast.devcluster",
    "clickcast.operator",
    "clickcast.jobs.submit",
]


def loaded_after(argv: list[str]) -> tuple[str, set[str]]:
    """The output of `clickcast <argv>` and the modules it imported, from a fresh interpreter."""
    code = (
        "import sys\nfrom clickcast.cli.main import app\n"
        f"try:\n    app({argv!r}, prog_name='clickcast')\nexcept SystemExit:\n    pass\n"
        "print('\\x00' + ' '.join(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    out, _, modules = done.stdout.rpartition("\x00")
    return out, set(modules.split())


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)}


def test_help_lists_every_command_with_its_short_help_and_imports_none() -> None:
    out, modules = loaded_after(["--help"])
    for name, entry in Commands.lazy.items():
        assert f" {name} " in out
        assert entry.help.split()[0] in out
    assert not heavy(modules)
    assert not {
        m for m in modules if m.startswith("clickcast.cli.") and m not in {"clickcast.cli.main", "clickcast.cli.lazy"}
    }


@pytest.mark.parametrize("argv", [["operator", "--help"], ["validate", "--help"], ["train", "--help"]])
def test_a_command_imports_only_its_own_module(argv: list[str]) -> None:
    out, modules = loaded_after(argv)
    assert "Usage:" in out
    assert not heavy(modules)


@pytest.mark.parametrize("name", list(Commands.lazy))
def test_each_lazy_entry_resolves_to_a_real_command_with_the_same_help(name: str) -> None:
    command = load(name, Commands.lazy[name])
    assert command.name == name
    first_paragraph = " ".join((command.help or "").split("\n\n")[0].split())
    assert first_paragraph == Commands.lazy[name].help


def test_the_group_resolves_lazy_commands_on_use() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, Commands)
    ctx = typer.Context(group)
    assert group.list_commands(ctx) == list(Commands.lazy)
    assert isinstance(group.get_command(ctx, "dev"), TyperGroup)
