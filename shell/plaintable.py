"""The shell's simple tables as text, without rich when rich is not needed.

`show ip route` at 300 VPCs is 600 rows; rich lays each cell out as
segments and measures it twice, which took 0.25 s of a 0.3 s command (the
kernel is read in 10 ms). A table of `shell.render.table`'s style whose
cells are plain ASCII (no markup brackets, no emoji colons, nothing wider
than one column) and that fits the width is written here directly: the
same text rich writes (a property test compares them). Anything else goes
to rich as before.
"""

from __future__ import annotations

import re

from rich import box
from rich.table import Table

_PLAIN = re.compile(r"[ -9;-Z\\\]-~]*")  # printable ASCII but `:` (emoji codes) and `[` (markup)
RULE = "\u2500"


def render(table: Table, width: int) -> str | None:
    """The text of `table` as rich prints it with no colour, or None when
    only rich can say (another style, text that is not plain, too wide)."""
    if table.box is not box.SIMPLE_HEAD or table.title or table.show_edge or table.pad_edge or not table.show_header \
            or table.padding != (0, 1, 0, 1) or table.caption:  # fmt: skip
        return None
    headers = [str(c.header) for c in table.columns]
    columns: list[list[str]] = []
    for column in table.columns:
        texts = [cell for cell in column.cells if isinstance(cell, str)]
        if len(texts) != table.row_count:
            return None  # a cell rich would lay out itself
        columns.append(texts)
    if not all(_PLAIN.fullmatch(text) for text in (*headers, *(cell for col in columns for cell in col))):
        return None
    widths = [max([len(h), *(len(cell) for cell in col)]) for h, col in zip(headers, columns)]
    total = sum(widths) + 3 * (len(widths) - 1)
    if total > width or any("\n" in cell for col in columns for cell in col):
        return None
    lines = ["   ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), RULE * total]
    for row in zip(*columns):
        lines.append("   ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return "\n".join(lines)
