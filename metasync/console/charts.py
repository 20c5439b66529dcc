"""Small server-side SVG charts for the console: one bar per day, no script, no library.

A chart is a few hundred bytes per day shown (30 days: about 6 KB), drawn at a fixed size and
scaled to the largest value. The value axis is labelled (0, half and the largest value, in the
chart's unit: the account's currency for spend) and the day axis with its first, middle and
last day; every bar carries a ``<title>`` with its day and exact value, so hovering tells the
number and the page stays readable without colour.
"""

from __future__ import annotations

from html import escape

__all__ = ["bar_chart"]

WIDTH, HEIGHT, BOTTOM, LEFT = 640, 140, 18, 70


def _amount(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def bar_chart(points: list[tuple[str, float]], label: str, unit: str = "") -> str:
    """An SVG bar chart of ``(day, value)`` points, oldest first; ``unit`` names the values
    (a currency code, "rows")."""
    if not points:
        return f'<p class="empty">no {escape(label)} yet</p>'
    top = max(value for _, value in points) or 1.0
    plot = HEIGHT - BOTTOM
    step = (WIDTH - LEFT) / len(points)
    suffix = f" {escape(unit)}" if unit else ""
    bars = []
    for index, (day, value) in enumerate(points):
        height = plot * value / top
        x, y = LEFT + index * step + 1, plot - height
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" '
            f'height="{height:.1f}"><title>{escape(day)}: {value:,.2f}{suffix}</title></rect>'
        )
    ticks = "".join(
        f'<text class="axis" x="{LEFT - 4}" y="{plot - plot * share + 4:.1f}" '
        f'text-anchor="end">{_amount(top * share)}{suffix}</text>'
        f'<line class="grid" x1="{LEFT}" x2="{WIDTH}" y1="{plot - plot * share:.1f}" '
        f'y2="{plot - plot * share:.1f}"></line>'
        for share in (0.0, 0.5, 1.0)
    )
    middle = len(points) // 2
    days = "".join(
        f'<text class="axis" x="{LEFT + i * step + step / 2:.1f}" y="{HEIGHT - 3}" '
        f'text-anchor="{anchor}">{escape(points[i][0])}</text>'
        for i, anchor in ((0, "start"), (middle, "middle"), (len(points) - 1, "end"))
    )
    first, last = escape(points[0][0]), escape(points[-1][0])
    return (
        f'<svg class="chart" role="img" aria-label="{escape(label)} per day{suffix}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">'
        f"<title>{escape(label)} per day, {first} to {last} (largest {top:,.2f}{suffix})"
        f"</title>{ticks}{''.join(bars)}{days}</svg>"
    )
