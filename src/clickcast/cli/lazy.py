"""A click group that imports a subcommand's module only when that subcommand runs.

`clickcast --help` and `clickcast validate` would otherwise import every command's module (the operator,
the dev cluster and its `kubernetes`, Spark helpers): about 2 s before anything happens. The short help
lives in the table, so the listing needs no import either.

Contexts and commands are typed Any: typer 0.29 vendors its own click (typer._click, private), so naming
click's classes would tie this module to one typer version.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

import typer.main
from typer.core import TyperCommand, TyperGroup

_LISTING = "clickcast.lazy.listing"


@dataclass(frozen=True)
class Lazy:
    """Where a subcommand lives ("module:attribute", a typer command function or a Typer app) and its short help."""

    target: str
    help: str


def load(name: str, entry: Lazy) -> Any:
    """Import the entry's module and turn its attribute into a click command named `name`."""
    module_name, _, attribute = entry.target.partition(":")
    obj = getattr(importlib.import_module(module_name), attribute)
    command: Any
    if isinstance(obj, typer.Typer):
        command = typer.main.get_group(obj)  # a group even with one subcommand, as add_typer makes it
    else:
        sub = typer.Typer()
        sub.command(name)(obj)
        command = typer.main.get_command(sub)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """A TyperGroup whose `lazy` table (name -> Lazy) is imported on use, not at start-up."""

    lazy: ClassVar[dict[str, Lazy]] = {}  # in the order `--help` lists them

    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.lazy, *(name for name in super().list_commands(ctx) if name not in self.lazy)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            if ctx.meta.get(_LISTING):
                help_ = self.lazy[cmd_name].help
                return TyperCommand(cmd_name, help=help_)
            self.commands[cmd_name] = load(cmd_name, self.lazy[cmd_name])
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        # Typer's help lists each command through get_command: answer with stubs from the table meanwhile.
        ctx.meta[_LISTING] = True
        try:
            super().format_help(ctx, formatter)
        finally:
            ctx.meta.pop(_LISTING, None)
