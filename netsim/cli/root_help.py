"""``netsim --help``: the root page, drawn as typer draws its help pages, without ``typer.rich_utils``.

typer's rich help imports ``typer.rich_utils``, which imports Markdown rendering (``markdown_it``) and
syntax highlighting: ~55 ms of a ~170 ms ``netsim --help`` on a 2-vCPU VM, for a page of two options
and four commands that uses neither. This module draws that page with the rich pieces it needs (a
console, panels, a grid): the same layout and styles as typer's (``typer.rich_utils``' ``STYLE_*``),
so the root page reads like every command's own ``--help``, which typer still draws.
"""

import inspect
import os
from typing import Any

# typer.rich_utils' styles, by the same names.
STYLE_OPTION = "bold cyan"
STYLE_USAGE = "yellow"
STYLE_USAGE_COMMAND = "bold"
STYLE_PANEL_BORDER = "dim"
STYLE_COMMAND = "bold cyan"


def print_root_help(group: Any, ctx: Any) -> None:
    """Print the help page of the root group ``group`` (a typer group) on stdout."""
    from rich.console import Console
    from rich.padding import Padding
    from rich.panel import Panel
    from rich.text import Text

    # typer's rich pages honour TERMINAL_WIDTH (and rich itself COLUMNS): so does this one.
    width = os.environ.get("TERMINAL_WIDTH")
    console = Console(width=int(width) if width and width.isdigit() else None, highlight=False)
    usage = " ".join(group.collect_usage_pieces(ctx))
    console.print(
        Padding(
            Text.assemble(("Usage: ", STYLE_USAGE), (f"{ctx.command_path} {usage}", STYLE_USAGE_COMMAND)),
            (1, 1, 0, 1),
        )
    )
    if group.help:
        console.print(Padding(Text(inspect.cleandoc(group.help).partition("\n\n")[0]), (1, 1, 1, 1)))

    options = _grid()
    for param in group.get_params(ctx):
        # typer's click (typer._click) is not click's: its parameters are told apart by kind name.
        if param.param_type_name == "option" and not getattr(param, "hidden", False):
            options.add_row(Text(", ".join(param.opts), style=STYLE_OPTION), Text(param.help or ""))
    console.print(_panel(Panel, options, "Options"))

    commands = _grid()
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        commands.add_row(Text(name, style=STYLE_COMMAND), Text(_first_paragraph(command)))
    console.print(_panel(Panel, commands, "Commands"))


def _grid() -> Any:
    from rich.table import Table

    grid = Table(highlight=False, show_header=False, expand=True, box=None, padding=(0, 1), pad_edge=False)
    grid.add_column(no_wrap=True)
    grid.add_column(ratio=1)
    return grid


def _panel(panel: Any, grid: Any, title: str) -> Any:
    return panel(grid, border_style=STYLE_PANEL_BORDER, title=title, title_align="left")


def _first_paragraph(command: Any) -> str:
    text = command.short_help or command.help or ""
    return " ".join(inspect.cleandoc(text).partition("\n\n")[0].split())
