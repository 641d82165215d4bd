"""Numbers as people read them in a table cell."""

from __future__ import annotations

from rich.filesize import decimal


def count(n: int | float | None) -> str:
    """Packets: 1,234,567 as `1.2M` past ten thousand."""
    if n is None:
        return "-"
    if n < 10_000:
        return str(int(n))
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(int(n))


def size(n: int | float | None) -> str:
    """Bytes in decimal units (rich's `decimal`: 1.2 kB)."""
    return "-" if n is None else decimal(int(n))


def rate(n: float | None) -> str:
    """Bytes per second; `-` when unknown (first reading, counter restart)."""
    if n is None:
        return "-"
    return f"{decimal(int(n))}/s" if n >= 1 else "0"


def age(seconds: float | int | None) -> str:
    """A connection's age: 42s, 3m05s, 2h10m."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
