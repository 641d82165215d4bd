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
    if not head and not headers:
        return
    sizes = widths(head, headers)
    lead = " " * indent
    full = lead + line_format(sizes)  # one format call per row
    if headers:
        yield from heading(headers, sizes, lead)
    n = len(sizes)
    for row in chain(head, it):
        yield (full.format(*row) if len(row) == n else _ragged(lead, sizes, row)).rstrip()


def widths(rows: Sequence[Sequence[str]], headers: Sequence[str] | None = None) -> list[int]:
    """Each column's width: its widest cell among `rows` and the headers."""
    measured = ([list(headers)] if headers else []) + [list(r) for r in rows]
    return [max(len(r[i]) for r in measured if i < len(r)) for i in range(max(len(r) for r in measured))]


def line_format(sizes: Sequence[int]) -> str:
    """The `str.format` pattern of one row: padded cells, the last one not."""
    return "  ".join([*(f"{{:<{w}}}" for w in sizes[:-1]), "{}"])


def heading(headers: Sequence[str], sizes: Sequence[int], lead: str = "") -> list[str]:
    """The header line and the rule under it."""
    full = lead + line_format(sizes)
    return [full.format(*headers).rstrip(), full.format(*("-" * w for w in sizes)).rstrip()]


def _ragged(lead: str, widths: list[int], row: Sequence[str]) -> str:
    """A row with another number of cells than the columns."""
    cells = [f"{cell:<{w}}" for w, cell in zip(widths[:-1], row[:-1], strict=False)]
    return lead + "  ".join([*cells, *row[len(cells):]])
