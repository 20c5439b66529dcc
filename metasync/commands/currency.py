"""What ``metasync export currency``, ``rates`` and ``run`` show of a tenant's reporting
currency: the rebuild of its past days with a progress bar, and the days that have no value in
it, with why and what to do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from metasync.commands.common import console

if TYPE_CHECKING:
    from metasync.export.currency import Gap
    from metasync.export.rebuild import Rebuilt

__all__ = ["rebuild_with_progress", "show_gaps", "show_rebuilt"]


def rebuild_with_progress(tenant_id: str) -> None:
    """Mark the tenant's waiting days to be exported again (see
    :mod:`metasync.export.rebuild`), showing the days done; nothing when none wait."""
    from metasync.export import rebuild

    if rebuild.pending(tenant_id) is None:
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} days"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task(f"tenant {tenant_id}: past days", total=None)
        done = rebuild.resume(
            tenant_id, progress=lambda n, total: progress.update(bar, completed=n, total=total)
        )
    if done.deferred:
        typer.echo(f"tenant {tenant_id}: {done.deferred}", err=True)
    else:
        console.print(f"tenant {tenant_id}: {done.days} days are sent again by the next export")


def show_rebuilt(tenant_id: str, done: Rebuilt) -> None:
    """What an export's rebuild of past days did (nothing when no days waited)."""
    if done.deferred:
        typer.echo(f"tenant {tenant_id}: {done.deferred}", err=True)
    elif done.days:
        console.print(f"tenant {tenant_id}: {done.days} past days sent again")


def show_gaps(tenant_id: str, found: Sequence[Gap]) -> None:
    """One line per group of days without a reporting-currency value (standard error)."""
    for gap in found:
        typer.echo(f"tenant {tenant_id}: {gap.message()}", err=True)
