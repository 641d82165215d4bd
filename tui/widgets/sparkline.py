"""Sparkline cells: the last minute of a rate in a few characters."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from rich.text import Text

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], style: str = "green", idle: str = "grey37") -> Text:
    """One character per value, scaled from zero to the largest value; idle
    slots are a dim floor.

    Textual's Sparkline renderable scales from the smallest to the largest
    value, so a steady rate would show as a flat floor; here a steady rate is
    a full bar. It is a Text (not a renderable that yields segments) so that
    table cells compare equal when nothing moved."""
    top = max(values, default=0.0)
    levels = len(BARS) - 1
    chars = [(BARS[max(1, round(v / top * levels))], style) if v > 0 and top > 0 else (BARS[0], idle) for v in values]
    out = Text(no_wrap=True, end="")
    for run_style, run in groupby(chars, key=lambda c: c[1]):
        out.append("".join(c for c, _ in run), style=run_style)
    return out
