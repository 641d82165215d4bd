"""A Topology selection as filters for the other screens.

Selecting a node (a segment, a VPC, a host, a share...) narrows Flows,
Top, Policy and Routes to it. The views take the filters `show flows`,
`show ip route` and `show policy hits` take; a kind a view has no filter
for narrows by the node's name in the row's text instead."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FLOW_FILTERS = ("segment", "vpc", "host", "share", "firewall")
ROUTE_FILTERS = ("segment", "cxp", "vpc")
POLICY_SCOPES = ("segment", "share", "firewall")
CONTAINED = ("subnet", "host", "vpc", "segment", "endpoint")  # an endpoint: its VPC's routes, its segment's policy


@dataclass(frozen=True)
class Scope:
    """A node and the nodes above it (kind -> name, nearest first), e.g. a
    host with its subnet, VPC, segment and hub."""

    kind: str
    name: str
    above: dict[str, str] = field(default_factory=dict, compare=False)
    address: str | None = field(default=None, compare=False)  # an endpoint's: what its flows are found by

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"

    def _nearest(self, kinds: tuple[str, ...]) -> tuple[str, str] | None:
        """This node or the nearest container above it that `kinds` filters
        on. Only what a node lives in counts (a host is in its VPC); a share
        under its hub is not the hub's, so it is matched by name instead."""
        if self.kind in kinds:
            return self.kind, self.name
        if self.kind not in CONTAINED:
            return None
        return next(((k, n) for k, n in self.above.items() if k in kinds), None)

    def flow_filters(self) -> dict[str, Any]:
        """`show flows` filters for this node (a subnet: its VPC's; an
        endpoint: none, its address is looked for in the rows instead, as
        its consumers live in other VPCs and segments)."""
        if self.kind == "endpoint":
            return {}
        found = self._nearest(FLOW_FILTERS)
        return {found[0]: found[1]} if found else {}

    def route_filters(self) -> dict[str, Any]:
        """`show ip route` filters (a host: its VPC's table)."""
        found = self._nearest(ROUTE_FILTERS)
        return {found[0]: found[1]} if found else {}

    def policy_scope(self) -> tuple[str | None, str | None]:
        """`show policy hits` scope (a VPC: its segment's policy)."""
        found = self._nearest(POLICY_SCOPES)
        return found if found else (None, None)

    def text(self, view: str) -> str | None:
        """The name to look for in a row's text when `view` has no filter of
        this node's kind (a hub in Flows: its name in the path)."""
        if self.kind == "endpoint" and view == "flows":
            return self.address or self.name  # its address, in the hops of the flows to it
        wanted = {"flows": FLOW_FILTERS, "routes": ROUTE_FILTERS, "policy": POLICY_SCOPES}[view]
        return None if self._nearest(wanted) else self.name


def scope_of(rows: list[dict[str, Any]], node_id: str) -> Scope | None:
    """The Scope of the topology row `node_id`, with its ancestors."""
    by_id = {r["id"]: r for r in rows}
    row = by_id.get(node_id)
    if row is None:
        return None
    above: dict[str, str] = {}
    parent = by_id.get(row.get("parent"))
    while parent is not None:
        above.setdefault(parent["kind"], parent["name"])
        parent = by_id.get(parent.get("parent"))
    address = str(row.get("detail") or "").split(" ")[0] if row["kind"] == "endpoint" else None  # "A to SERVICE"
    return Scope(row["kind"], row["name"], above, address or None)
