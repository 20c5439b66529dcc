"""Small server-side SVG charts for the console: one bar per day, no script, no library.

A chart is a few hundred bytes per day shown (30 days: about 6 KB), drawn at a fixed size and
scaled to the largest value; every bar carries a ``<title>`` with its day and exact value, so
hovering tells the number and the page stays readable without colour.
"""

from __future__ import annotations

from html import escape

__all__ = ["bar_chart"]

WIDTH, HEIGHT, BOTTOM = 600, 120, 16


def bar_chart(points: list[tuple[str, float]], label: str, unit: str = "") -> str:
    """An SVG bar chart of ``(day, value)`` points, oldest first."""
    if not points:
        return f'<p class="empty">no {escape(label)} yet</p>'
    top = max(value for _, value in points) or 1.0
    step = WIDTH / len(points)
    bars = []
    for index, (day, value) in enumerate(points):
        height = (HEIGHT - BOTTOM) * value / top
        x, y = index * step + 1, HEIGHT - BOTTOM - height
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" '
            f'height="{height:.1f}"><title>{escape(day)}: {value:,.2f}{escape(unit)}</title></rect>'
        )
    first, last = escape(points[0][0]), escape(points[-1][0])
    return (
        f'<svg class="chart" role="img" aria-label="{escape(label)} per day" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">'
        f"<title>{escape(label)} per day, {first} to {last} (largest {top:,.2f}{escape(unit)})"
        f"</title>{''.join(bars)}"
        f'<text x="0" y="{HEIGHT - 2}">{first}</text>'
        f'<text x="{WIDTH}" y="{HEIGHT - 2}" text-anchor="end">{last}</text></svg>'
    )
