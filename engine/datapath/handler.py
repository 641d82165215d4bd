"""The extension point of the data-path model: one handler per namespace role.

A walk (engine/datapath/walk.py) does what the kernel does for every
namespace alike (local delivery, route lookup, ARP, veth and bridge
hand-over) and asks the namespace's *role handler* for what is specific to
that kind of namespace, at the same points as netfilter's hooks:

    arrival ─► prerouting ─► (local? ─► deliver) ─► rules and route lookup
            ─► forward ─► postrouting ─► next namespace

Contract of a handler (subclass `Handler`, override what the role does,
decorate with `@register("ROLE")`, ROLE being the `NetnsItem.role` the
compiler gives the namespace, and import the module in
engine/datapath/roles/__init__.py):

- `prerouting(model, ns, ingress, pkt)` -> Packet | Drop: destination NAT
  and steering marks of a packet arriving on `ingress` (never called for
  the packet's source namespace, as locally generated packets skip it). A
  mark set here (`Packet.mark`) is what the plan's `RuleItem`s match: the
  walk follows the rules to their tables as the kernel does.
- `forward(model, ns, ingress, egress, pkt)` -> str | None | Drop: the
  forward filter of a new connection, after routing: a Drop, or the rule
  that admitted it (for the hop's `rule`), None when nothing was judged.
- `postrouting(model, ns, ingress, egress, pkt)` -> Packet: source NAT.
- `deliver(model, ns, pkt)` -> Outcome: the packet is for an address of
  this namespace; whether that is "reachable" for its protocol (a host
  answers ping, a listening service completes a handshake, ...).
- `forwards`: False for namespaces that never route (hosts).

Handlers are pure: they read the running Config and Plan through the
`Model` (engine/datapath/model.py), never the kernel, and keep no state
between calls (the model memoises what is costly).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from engine.datapath.packet import Outcome, Packet

if TYPE_CHECKING:
    from engine.datapath.graph import Namespace
    from engine.datapath.model import Model


@dataclass(frozen=True)
class Drop:
    """The packet goes no further here: what decided, and why in words."""

    rule: str  # what a hop shows as its rule ("segment corp default", "share x direction")
    reason: str  # the sentence `trace` gives as its reason
    refused: bool = False  # an ICMP error or RST goes back to the sender


class Handler:
    """Plain Linux forwarding: no NAT, no filter, main table. Roles override."""

    forwards = True

    def prerouting(self, model: Model, ns: Namespace, ingress: str, pkt: Packet) -> Packet | Drop:
        """Destination NAT and marks on arrival."""
        return pkt

    def forward(self, model: Model, ns: Namespace, ingress: str, egress: str, pkt: Packet) -> str | None | Drop:
        """The forward filter on a new connection."""
        return None

    def postrouting(self, model: Model, ns: Namespace, ingress: str | None, egress: str, pkt: Packet) -> Packet:
        """Source NAT on the way out."""
        return pkt

    def deliver(self, model: Model, ns: Namespace, pkt: Packet) -> Outcome:
        """A router's own address: it answers ping, refuses tcp (RST) and
        udp (ICMP port unreachable, which CLI.md counts as delivered)."""
        where = ns.node
        if pkt.proto == "icmp":
            return Outcome(True, f"echo answered by {where}", ns.ns, delivered=True)
        if pkt.proto == "tcp":
            return Outcome(False, f"{where} refuses tcp port {pkt.dport} (RST)", ns.ns, delivered=True, refused=True)
        return Outcome(True, f"delivered to {where} (no service: port unreachable)", ns.ns, delivered=True)


HANDLERS: dict[str, Handler] = {}
H = TypeVar("H", bound=type[Handler])


def register(role: str) -> Callable[[H], H]:
    """Class decorator: the handler of namespaces with this role."""

    def add(cls: H) -> H:
        if role in HANDLERS:
            raise ValueError(f"two data-path handlers for role {role}")
        HANDLERS[role] = cls()
        return cls

    return add


class UnknownRole(LookupError):
    """A namespace role the model has no handler for (a feature without its model)."""


def handler_for(role: str) -> Handler:
    """The handler of a role (the built-in roles register on first use)."""
    if not HANDLERS:
        import engine.datapath.roles  # noqa: F401  (registers the built-in roles)
    try:
        return HANDLERS[role]
    except KeyError:
        raise UnknownRole(f"the data-path model has no handler for {role} namespaces yet") from None
