"""Drill-down into one flow: its path, what admitted it, its counters over
time, and the model's trace of the same 5-tuple."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from engine.datapath.observe import Difference
from tui import units
from tui.flowwindow import Filter, endpoint, firewall_text, flow_key, nat_text, row_key
from tui.messages import Traced
from tui.rates import CounterRates, History
from tui.scope import Scope
from tui.screens.polling import PollingScreen, Row
from tui.source import Snapshot
from tui.widgets.sparkline import sparkline

BUCKETS = 30


def rule_scope(rule: str | None) -> tuple[str, str, int | None] | None:
    """`segment corp 10` -> (segment, corp, 10); `... default` -> seq None."""
    parts = (rule or "").split()
    if len(parts) != 3:
        return None
    return parts[0], parts[1], int(parts[2]) if parts[2].isdigit() else None


def hop_rows(flow: Row) -> list[tuple[str, str, str, str]]:
    """(node, kind, addresses at this hop, rule) per hop of the flow's path.
    A path of names (today's `show flows`) carries the flow's NAT on its hop."""
    out = []
    for hop in flow.get("path") or ():
        if isinstance(hop, dict):
            addresses = f"{endpoint(hop.get('src'), hop.get('sport'))} > {endpoint(hop.get('dst'), hop.get('dport'))}"
            out.append((str(hop.get("node", "")), str(hop.get("kind", "")), addresses, str(hop.get("rule") or "")))
        else:
            out.append((str(hop), "", nat_text(flow) or "no NAT", str(flow.get("rule") or "")))
    return out


class FlowDetailScreen(PollingScreen):
    """One flow, polled while shown; Esc goes back to Flows."""

    VIEW = "flow"
    TITLE_TEXT = "Flow detail"

    def __init__(self, key: str, flow: Row) -> None:
        super().__init__()
        self.key = key
        self.flow: Row | None = flow
        self.hit: Row | None = None
        self.rates = CounterRates()
        self.history = History(60.0)
        self.trace: dict[str, Any] | None = None
        self.trace_note = "asking the model..."
        self.read_at = 0.0  # the clock at the last reading: sparklines end there

    def body(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(id="connection")
            yield Static(id="path")
            yield Static(id="admission")
            yield Static(id="counters")
            yield Static(id="trace")

    def on_mount(self) -> None:
        super().on_mount()
        self._trace()

    def read(self, snap: Snapshot, scope: Scope | None, where: Filter, sort: str, reverse: bool) -> tuple[Row | None, Row | None, float]:
        base = self.flow or {}
        filters = {"segment": base.get("segment"), "protocol": base.get("protocol"), "address": base.get("src")}
        found = next((r for r in self.monitor.source.flows(snap, **filters) if row_key(flow_key(r)) == self.key), None)
        now = self.monitor.clock()
        counters = (found.get("bytes_out", 0), found.get("bytes_in", 0)) if found else (0, 0)
        rate = self.rates.update(now, [self.key] if found else [], [counters])[0] if found else None
        self.history.add(now, {"out": rate[0], "in": rate[1]} if rate else {})
        hit = None
        where_from = rule_scope((found or base).get("rule"))
        if where_from:
            scope_kind, name, seq = where_from
            hit = next((h for h in self.monitor.source.policy_hits(snap, scope_kind, name) if h.get("seq") == seq), None)
        return found, hit, now

    def apply(self, payload: tuple[Row | None, Row | None, float]) -> None:
        found, self.hit, self.read_at = payload
        gone = found is None
        if found is not None:
            self.flow = found
        self._show(gone)

    @work(thread=True, exclusive=True, group="trace", exit_on_error=False)
    def _trace(self) -> None:
        source = self.monitor.source
        if not getattr(source, "has_trace", False) or self.flow is None:
            self.post_message(Traced(None))
            return
        try:
            self.post_message(Traced(source.trace(source.snapshot(), self.flow)))
        except Exception as err:  # noqa: BLE001 - shown in the trace section
            self.post_message(Traced(None, f"{type(err).__name__}: {err}"))

    @on(Traced)
    def _traced(self, message: Traced) -> None:
        message.stop()
        self.trace = message.result
        if message.error:
            self.trace_note = f"trace failed: {message.error}"
        elif message.result is None:
            self.trace_note = "the engine has no trace yet (issue 11): the path above is what conntrack shows"
        self._show(False)

    # rendering ------------------------------------------------------------------------

    def _show(self, gone: bool) -> None:
        f = self.flow or {}
        head = Text.assemble(
            (f"{f.get('protocol')} {endpoint(f.get('src'), f.get('sport'))} > {endpoint(f.get('dst'), f.get('dport'))}", "bold"),
            f"  segment {f.get('segment')}  application {f.get('application') or '-'}  state {f.get('state') or '-'}"
            f"  age {units.age(f.get('age'))}",
        )
        if gone:
            head.append("  (gone: no longer tracked)", style="bold red")
        self.query_one("#connection", Static).update(head)
        self.query_one("#path", Static).update(self._path_table(f))
        self.query_one("#admission", Static).update(self._admission(f))
        self.query_one("#counters", Static).update(self._counters(f))
        self.query_one("#trace", Static).update(self._trace_view())

    def _path_table(self, f: Row) -> Table:
        table = Table(title="Path, hop by hop", title_justify="left", expand=False)
        for name in ("#", "hop", "kind", "addresses here (NAT)", "rule"):
            table.add_column(name)
        for i, (node, kind, addresses, rule) in enumerate(hop_rows(f), 1):
            table.add_row(str(i), node, kind, addresses, rule)
        return table

    def _admission(self, f: Row) -> Text:
        out = Text.assemble(("Admitted by: ", "bold"), f"{f.get('rule') or 'no policy entry (the segment has no policy)'}")
        if self.hit:
            out.append(f"  [{self.hit.get('action')} {self.hit.get('match')}: {units.count(self.hit.get('packets'))} packets, "
                       f"{units.size(self.hit.get('bytes'))}]")
        fw = firewall_text(f)
        out.append("\nFirewall: ", style="bold")
        out.append(fw or "none on this path")
        return out

    def _counters(self, f: Row) -> Table:
        now = self.read_at
        table = Table(title="Counters (last minute)", title_justify="left")
        for name in ("direction", "packets", "bytes", "now", "last minute"):
            table.add_column(name)
        for label, way, pk, by in (("out (src > dst)", "out", "packets_out", "bytes_out"), ("in (dst > src)", "in", "packets_in", "bytes_in")):
            series = self.history.series(way, now, BUCKETS)
            table.add_row(label, units.count(f.get(pk, 0)), units.size(f.get(by, 0)), units.rate(series[-1] if way in self.history else 0),
                          sparkline(series))
        return table

    def _trace_view(self) -> Table | Text:
        if self.trace is None:
            return Text(f"Trace: {self.trace_note}", style="italic")
        t = self.trace
        agree = "agree" if t.get("agree") else _disagreement(t.get("first_difference"))
        table = Table(title=f"Trace: {t.get('verdict')} ({t.get('reason')}), model and packet {agree}", title_justify="left")
        for name in ("#", "predicted", "observed"):
            table.add_column(name)
        predicted, observed = t.get("predicted") or [], t.get("observed") or []
        for i in range(max(len(predicted), len(observed))):
            table.add_row(str(i + 1), _hop(predicted, i), _hop(observed, i))
        return table

    # keys ---------------------------------------------------------------------------------

    def action_back(self) -> None:
        """Esc: back to Flows."""
        self.app.pop_screen()

    def action_filter(self) -> None:
        self.notify("one flow: nothing to filter", severity="warning")

    def summary(self) -> str:
        f = self.flow or {}
        return f"{f.get('protocol')} {endpoint(f.get('src'), f.get('sport'))} > {endpoint(f.get('dst'), f.get('dport'))} in {f.get('segment')}"

    def export_rows(self) -> list[Row]:
        now = self.read_at
        return [{"flow": self.flow, "policy_entry": self.hit, "trace": self.trace,
                 "last_minute": {w: self.history.series(w, now, BUCKETS) for w in ("out", "in")}}]


def _hop(hops: list[Any], i: int) -> str:
    if i >= len(hops):
        return ""
    h = hops[i]
    if not isinstance(h, dict):
        return str(h)
    return f"{h.get('node')} {endpoint(h.get('src'), h.get('sport'))} > {endpoint(h.get('dst'), h.get('dport'))} {h.get('rule') or ''}".strip()


def _disagreement(first: Any) -> str:
    """The trace's first difference as `trace` words it (`DISAGREE at hop 3
    (NODE): predicted X, observed Y`), not its JSON."""
    try:
        return Difference(**first).sentence()
    except TypeError:  # no difference recorded, or another shape
        return "DISAGREE"
