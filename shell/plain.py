"""Plain text columns that stream: for outputs too large for a rich Table.

rich's Table measures every cell of every row before printing the first
line (most of 385 s for 100,000 flows). Here column widths come from the
headers and the first `sample` rows, and every row is formatted as soon
as it comes; a later, wider cell pushes its own line out instead of
re-flowing the whole table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, islice


def columns(rows: Iterable[Sequence[str]], headers: Sequence[str] | None = None, indent: int = 0,
            sample: int = 500) -> Iterator[str]:  # fmt: skip
    """Left-aligned columns two spaces apart, the last column unpadded."""
    it = iter(rows)
    head = list(islice(it, sample))
    measured = ([list(headers)] if headers else []) + [list(r) for r in head]
    if not measured:
        return
    widths = [max(len(r[i]) for r in measured if i < len(r)) for i in range(max(len(r) for r in measured))]
    lead = " " * indent
    full = lead + "  ".join([*(f"{{:<{w}}}" for w in widths[:-1]), "{}"])  # one format call per row
    if headers:
        yield full.format(*headers).rstrip()
        yield full.format(*("-" * w for w in widths)).rstrip()
    n = len(widths)
    for row in chain(head, it):
        yield (full.format(*row) if len(row) == n else _ragged(lead, widths, row)).rstrip()


def _ragged(lead: str, widths: list[int], row: Sequence[str]) -> str:
    """A row with another number of cells than the columns."""
    cells = [f"{cell:<{w}}" for w, cell in zip(widths[:-1], row[:-1], strict=False)]
    return lead + "  ".join([*cells, *row[len(cells):]])
