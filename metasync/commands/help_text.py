"""Help text a person reads: docstrings double as ``--help``, so their markup is taken out.

Docstrings are written for readers of the code (RST roles, double backticks, lines broken at
100 columns); ``--help`` shows them to operators. :func:`tidy` walks the command tree once,
before it runs: paragraphs are joined into lines the terminal wraps, ``:func:`x``` and
````x```` become ``x``, and flags lose the ``<bool>`` type column typer gives them (a flag
takes no value; its ``--no-...`` twin says the rest).
"""

from __future__ import annotations

import inspect
import re
from types import SimpleNamespace
from typing import Any, cast

from typer.core import TyperCommand, TyperGroup, TyperOption

__all__ = ["plain", "tidy"]

# :role:`~target`, ``literal`` and `literal`: the text inside is kept, the markup dropped
_MARKUP = re.compile(r"(?::[a-z]+:)?`{1,2}~?([^`]+?)`{1,2}")


def plain(text: str | None) -> str | None:
    """``text`` without RST markup, each paragraph on one line (paragraphs stay apart)."""
    if text is None:
        return None
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(_MARKUP.sub(r"\1", p).split()) for p in paragraphs)


def tidy(command: object) -> None:
    """Clean the help of ``command`` (what ``typer.main.get_command`` built) and of every
    command under it, in place."""
    if not isinstance(command, TyperCommand | TyperGroup):
        return
    command.help = plain(command.help)
    command.short_help = plain(command.short_help)
    # click makes --help when help is first asked for; made here (its names are all it reads
    # of the context) so that it loses the <bool> too
    names = SimpleNamespace(help_option_names=["--help"])
    help_option = command.get_help_option(cast(Any, names))
    for param in [*command.params, help_option]:
        if isinstance(param, TyperOption):
            param.help = plain(param.help)
            if param.is_flag:
                param.metavar = ""
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            tidy(sub)
