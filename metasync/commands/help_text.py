"""Help text a person reads: docstrings double as ``--help``, so their markup is taken out.

Docstrings are written for readers of the code (RST roles, double backticks, lines broken at
100 columns); ``--help`` shows them to operators. :func:`tidy` walks the command tree once,
before it runs: paragraphs are joined into lines the terminal wraps, ``:func:`x``` and
````x```` become ``x``, and flags lose the ``<bool>`` type column typer gives them (a flag
takes no value; its ``--no-...`` twin says the rest). Options that take a value show the value's
name (``--level LEVEL``, ``--interval INTERVAL``) instead of typer's Python type names
(``<list[str]>``, ``<int range>``), and a number's bounds move into the help as words
("at least 1") instead of ``[x>=1]``; typer checks the bounds from its own parameter info, so
only the display changes.
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
            elif param.metavar is None:
                param.metavar = _value_name(param)
                bounds = _bounds_in_words(param.min, param.max)
                if bounds:
                    said = (param.help or "").rstrip(". ")
                    param.help = f"{said} ({bounds})." if said else f"{bounds.capitalize()}."
                    param.min = param.max = None
    if isinstance(command, TyperGroup):
        for sub in command.commands.values():
            tidy(sub)


def _value_name(option: TyperOption) -> str:
    """The name shown for the value ``option`` takes: its longest ``--name`` in capitals."""
    names = [name.lstrip("-") for name in option.opts if name.startswith("--")]
    return (max(names, key=len) if names else option.name or "value").upper().replace("-", "_")


def _bounds_in_words(low: float | None, high: float | None) -> str | None:
    """``low``/``high`` (either may be missing) as "at least 1", "at most 9" or "1 to 9"."""
    if low is None and high is None:
        return None
    if high is None:
        return f"at least {low}"
    if low is None:
        return f"at most {high}"
    return f"{low} to {high}"
