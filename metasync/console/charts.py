"""Small server-side SVG charts for the console: one bar per day, no script, no library.

A chart is a few hundred bytes per day shown (30 days: about 6 KB). It is drawn in a
:data:`WIDTH` x :data:`HEIGHT` view box and scales to the full width of its page (its text
scales with it, so it stays readable on a wide screen). Every label sits inside the drawing:
the value axis (0, half and the largest value, formatted by ``label``: the account's money for
spend) is written just above its grid line at the left edge, with :data:`TOP` room above the
highest one, and the day axis (first, middle and last day) along the bottom edge. Every bar
carries a ``<title>`` with its day and exact value, so hovering tells the number and the page
stays readable without colour.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

__all__ = ["HEIGHT", "WIDTH", "bar_chart"]

WIDTH, HEIGHT = 1000, 240  # the view box; the chart is drawn at the page's width
TOP, BOTTOM = 24, 22  # room for the highest value's label, and for the days


def _amount(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def bar_chart(
    points: list[tuple[str, float]],
    label: str,
    unit: str = "",
    value_label: Callable[[float], str] | None = None,
) -> str:
    """An SVG bar chart of ``(day, value)`` points, oldest first; ``unit`` names the values
    (a currency code, "rows") and ``value_label`` writes one (default: the number and unit)."""
    if not points:
        return f'<p class="empty">no {escape(label)} yet</p>'
    suffix = f" {escape(unit)}" if unit else ""
    write = value_label or (lambda value: f"{_amount(value)}{suffix}")
    top = max(value for _, value in points) or 1.0
    floor = HEIGHT - BOTTOM
    plot = floor - TOP
    step = WIDTH / len(points)
    bars = []
    for index, (day, value) in enumerate(points):
        height = plot * value / top
        x, y = index * step + 1, floor - height
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" '
            f'height="{height:.1f}"><title>{escape(day)}: {escape(write(value))}</title></rect>'
        )
    grid = "".join(
        f'<line class="grid" x1="0" x2="{WIDTH}" y1="{floor - plot * share:.1f}" '
        f'y2="{floor - plot * share:.1f}"></line>'
        for share in (0.0, 0.5, 1.0)
    )
    values = "".join(
        f'<text class="axis" x="4" y="{floor - plot * share - 4:.1f}" '
        f'text-anchor="start">{escape(write(top * share))}</text>'
        for share in (0.5, 1.0)
    )
    middle = len(points) // 2
    places = (
        (0, 2.0, "start"),
        (middle, middle * step + step / 2, "middle"),
        (len(points) - 1, WIDTH - 2.0, "end"),
    )
    days = "".join(
        f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}">'
        f"{escape(points[i][0])}</text>"
        for i, x, anchor in places
    )
    first, last = escape(points[0][0]), escape(points[-1][0])
    return (
        f'<svg class="chart" role="img" aria-label="{escape(label)} per day{suffix}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="xMidYMid meet">'
        f"<title>{escape(label)} per day, {first} to {last} (largest "
        f"{escape(write(top))})</title>{grid}{''.join(bars)}{values}{days}</svg>"
    )
