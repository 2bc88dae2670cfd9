"""A click group that imports a subcommand's module only when that subcommand runs.

`clickcast --help` and `clickcast validate` would otherwise import every command's module (the operator,
the dev cluster and its `kubernetes`, Spark helpers): about 2 s before anything happens. The short help
lives in the table, so the listing needs no import either.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

import click
import typer.main
from typer.core import TyperGroup

_LISTING = "clickcast.lazy.listing"


@dataclass(frozen=True)
class Lazy:
    """Where a subcommand lives ("module:attribute", a typer command function or a Typer app) and its short help."""

    target: str
    help: str


def load(name: str, entry: Lazy) -> click.Command:
    """Import the entry's module and turn its attribute into a click command named `name`."""
    module_name, _, attribute = entry.target.partition(":")
    obj = getattr(importlib.import_module(module_name), attribute)
    if isinstance(obj, typer.Typer):
        command = typer.main.get_command(obj)
    else:
        sub = typer.Typer()
        sub.command(name)(obj)
        command = typer.main.get_command(sub)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """A TyperGroup whose `lazy` table (name -> Lazy) is imported on use, not at start-up."""

    lazy: ClassVar[dict[str, Lazy]] = {}  # in the order `--help` lists them

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *(name for name in super().list_commands(ctx) if name not in self.lazy)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            if ctx.meta.get(_LISTING):
                help_ = self.lazy[cmd_name].help
                return click.Command(cmd_name, help=help_)
            self.commands[cmd_name] = load(cmd_name, self.lazy[cmd_name])
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Typer's help lists each command through get_command: answer with stubs from the table meanwhile.
        ctx.meta[_LISTING] = True
        try:
            super().format_help(ctx, formatter)
        finally:
            ctx.meta.pop(_LISTING, None)

    def resolve_all(self, ctx: click.Context) -> dict[str, Any]:
        """Every lazy command, imported (for tests and documentation)."""
        return {name: self.get_command(ctx, name) for name in self.lazy}
