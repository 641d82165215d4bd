"""Screen 5, Topology: the lab as a tree; Enter on a node scopes the other screens."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.widgets import Tree

from tui.flowwindow import Filter
from tui.messages import ScopeChosen
from tui.scope import Scope, scope_of
from tui.screens.polling import PollingScreen, Row
from tui.source import Snapshot

KIND_STYLE = {"cxp": "bold magenta", "segment": "bold cyan", "vpc": "bold", "subnet": "", "host": "green",
              "share": "yellow", "firewall": "red", "internet": "blue", "endpoint-service": "blue"}


def kept_rows(rows: list[Row], where: Filter) -> list[Row]:
    """Rows matching the filter, with every ancestor so the tree holds them."""
    test = where.predicate()
    if test is None:
        return rows
    by_id = {r["id"]: r for r in rows}
    keep: set[str] = set()
    for r in rows:
        if test(f"{r['kind']} {r['name']} {r.get('detail') or ''}"):
            node: Row | None = r
            while node is not None and node["id"] not in keep:
                keep.add(node["id"])
                node = by_id.get(node.get("parent"))
    return [r for r in rows if r["id"] in keep]


class TopologyScreen(PollingScreen):
    """Hubs, segments, VPCs, subnets, hosts, shares, firewalls and edges.
    Rebuilt when a commit changes them, keeping what was expanded and the
    cursor's node."""

    VIEW = "topology"
    TITLE_TEXT = "Topology"

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self.built: list[Row] | None = None

    def body(self) -> ComposeResult:
        tree: Tree[str] = Tree(Text("lab"), data="", id="topology")
        tree.auto_expand = False
        yield tree

    def read(self, snap: Snapshot, scope: Scope | None, where: Filter, sort: str, reverse: bool) -> tuple[list[Row], list[Row]]:
        rows = self.monitor.source.topology(snap)
        return rows, kept_rows(rows, where)

    def apply(self, payload: tuple[list[Row], list[Row]]) -> None:
        self.rows, shown = payload
        if shown == self.built:
            return
        tree: Tree[str] = self.query_one(Tree)
        open_ids = {n.data for n in _nodes(tree.root) if n.is_expanded} if self.built is not None else None
        at = tree.cursor_node.data if tree.cursor_node else None
        tree.reset(Text(f"lab {self.monitor.source.lab}", style="bold"), "")
        nodes: dict[str, Any] = {"": tree.root}
        parents = {r.get("parent") for r in shown}
        for r in shown:
            parent = nodes.get(r.get("parent") or "", tree.root)
            label = Text.assemble((f"{r['kind']} ", "dim"), (r["name"], KIND_STYLE.get(r["kind"], "")), (f"  {r.get('detail') or ''}", "dim"))
            if r["id"] in parents:
                nodes[r["id"]] = parent.add(label, r["id"], expand=open_ids is None or r["id"] in open_ids or self.where.text != "")
            else:
                nodes[r["id"]] = parent.add_leaf(label, r["id"])
        tree.root.expand()
        self.built = shown
        if at in nodes:
            tree.move_cursor(nodes[at])

    def summary(self) -> str:
        """`3 cxp, 2 segment, ...`: a segment is counted once, though the
        tree shows it under each hub it spans."""
        kinds: dict[str, set[str]] = {}
        for r in self.rows:
            kinds.setdefault(r["kind"], set()).add(r["name"] if r["kind"] == "segment" else r["id"])
        return ", ".join(f"{len(ids)} {k}" for k, ids in kinds.items()) or "empty lab"

    def export_rows(self) -> list[Row]:
        return list(self.rows)

    @on(Tree.NodeSelected)
    def _chosen(self, event: Tree.NodeSelected[str]) -> None:
        """Enter: this node scopes the other screens (the root: the whole lab)."""
        event.stop()
        node_id = event.node.data or ""
        self.post_message(ScopeChosen(scope_of(self.rows, node_id) if node_id else None))


def _nodes(node: Any) -> list[Any]:
    out = [node]
    for child in node.children:
        out.extend(_nodes(child))
    return out
