"""ping(8) and traceroute(8) output, read as it streams and told as IOS does.

`ping` shows one mark per echo (`!` answered, `.` no answer, `U`
unreachable, `&` TTL exceeded, `?` anything else), in sequence order and
while the echos go out, then the success rate and round-trip
min/avg/max. `traceroute` names each hop's node (the VPC or segment router
and its hub, or the host) next to its address. Both keep the raw lines for
the `raw` keyword and give the same facts as JSON data.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

_REPLY = re.compile(r"bytes from .*icmp_seq=(\d+).* time=([\d.]+) ms")
_ERROR = re.compile(r"^From \S+ icmp_seq=(\d+) (.*)$")
_SENT = re.compile(r"^(\d+) packets transmitted")
_HOP = re.compile(r"^\s*(\d+)\s+(?:(\S+)\s+([\d.]+) ms|\*)")


class Report(Protocol):
    """What `ping` and `traceroute` make of their tool's streamed output."""

    def feed(self, chunk: str) -> str:
        """What to show now, given the next piece of output."""

    def finish(self) -> str:
        """What to show once the tool has ended."""

    def closing(self) -> str:
        """The last line, after what was streamed."""

    def body(self) -> str:
        """The whole report under its head, when nothing was streamed."""

    def data(self) -> dict[str, Any]:
        """The facts as JSON data."""


class Lines:
    """Cuts a stream of text chunks into whole lines."""

    def __init__(self) -> None:
        self._rest = ""

    def feed(self, chunk: str) -> list[str]:
        """The lines completed by `chunk`."""
        *done, self._rest = (self._rest + chunk).split("\n")
        return done

    def close(self) -> list[str]:
        """The last line, when the output did not end with a newline."""
        rest, self._rest = self._rest, ""
        return [rest] if rest else []


def _error_mark(text: str) -> str:
    if "Unreachable" in text:
        return "U"
    if "Time to live exceeded" in text:
        return "&"
    return "?"


class PingReport:
    """Marks and statistics of one ping(8) run, fed its output as it comes."""

    def __init__(self, count: int):
        self.count = count
        self.marks: dict[int, str] = {}
        self.shown = 0
        self.rtts: list[float] = []
        self.sent: int | None = None
        self.raw: list[str] = []
        self._lines = Lines()

    def feed(self, chunk: str) -> str:
        """The marks that became final with this output (to show now)."""
        return "".join(self._line(line) for line in self._lines.feed(chunk))

    def _line(self, line: str) -> str:
        self.raw.append(line)
        if m := _REPLY.search(line):
            new = self._mark(int(m.group(1)), "!")
            if new:
                self.rtts.append(float(m.group(2)))
            return new
        if m := _ERROR.match(line):
            return self._mark(int(m.group(1)), _error_mark(m.group(2)))
        if m := _SENT.match(line):
            self.sent = int(m.group(1))
        return ""

    def _mark(self, seq: int, mark: str) -> str:
        """Final marks up to `seq`: earlier echos still unanswered count as lost."""
        if seq <= self.shown:
            return ""  # a late answer to an echo already shown as lost
        self.marks[seq] = mark
        out = []
        while self.shown < seq:
            self.shown += 1
            out.append(self.marks.setdefault(self.shown, "."))
        return "".join(out)

    def finish(self) -> str:
        """The marks of the echos never answered, once ping has ended, and
        the end of the line of marks."""
        tail = "".join(self._line(line) for line in self._lines.close())
        total = self.sent if self.sent is not None else self.count
        return tail + (self._mark(total, self.marks.get(total, ".")) if total > self.shown else "") + "\n"

    def closing(self) -> str:
        """What follows the streamed marks: the summary."""
        return self.summary()

    def body(self) -> str:
        """The whole report under its head, for output that was not streamed."""
        return "".join(self.marks[i] for i in range(1, self.shown + 1)) + "\n" + self.summary()

    @property
    def answered(self) -> int:
        return sum(1 for m in self.marks.values() if m == "!")

    def summary(self) -> str:
        """`Success rate is 80 percent (4/5), round-trip min/avg/max = ...`."""
        total = max(self.shown, 1)
        line = f"Success rate is {100 * self.answered // total} percent ({self.answered}/{self.shown})"
        if self.rtts:
            avg = sum(self.rtts) / len(self.rtts)
            line += f", round-trip min/avg/max = {min(self.rtts):.3f}/{avg:.3f}/{max(self.rtts):.3f} ms"
        return line

    def data(self) -> dict[str, Any]:
        """The run as JSON data."""
        avg = sum(self.rtts) / len(self.rtts) if self.rtts else None
        return {"sent": self.shown, "received": self.answered, "marks": "".join(self.marks[i] for i in range(1, self.shown + 1)),
                "success_percent": 100 * self.answered // max(self.shown, 1), "rtt_min_ms": min(self.rtts, default=None),
                "rtt_avg_ms": avg, "rtt_max_ms": max(self.rtts, default=None)}


class TraceReport:
    """Hops of one traceroute(8) run, each named after the node holding its address."""

    def __init__(self, names: dict[str, str]):
        self.names = names
        self.hops: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._lines = Lines()

    def feed(self, chunk: str) -> str:
        """The hop lines completed by this output (to show now)."""
        return "".join(self._line(line) for line in self._lines.feed(chunk))

    def finish(self) -> str:
        """The last hop line, when the output did not end with a newline."""
        return "".join(self._line(line) for line in self._lines.close())

    def closing(self) -> str:
        """Nothing follows the streamed hop lines."""
        return ""

    def body(self) -> str:
        """The hop lines, for output that was not streamed."""
        return "\n".join(hop_line(h) for h in self.hops)

    def data(self) -> dict[str, Any]:
        """The hops as JSON data."""
        return {"hops": self.hops}

    def _line(self, line: str) -> str:
        self.raw.append(line)
        m = _HOP.match(line)
        if not m:
            return ""
        address = m.group(2)
        hop = {"hop": int(m.group(1)), "address": address, "node": self.names.get(address or "", "") or None,
               "rtt_ms": float(m.group(3)) if m.group(3) else None}
        self.hops.append(hop)
        return hop_line(hop) + "\n"


def hop_line(hop: dict[str, Any]) -> str:
    """`  2 169.254.74.218  segment prod router (hub core)  0.030 ms`."""
    if hop["address"] is None:
        return f"{hop['hop']:>3} *"
    node = hop["node"] or "(not in this lab)"
    return f"{hop['hop']:>3} {hop['address']:<15}  {node:<40}  {hop['rtt_ms']:.3f} ms"
