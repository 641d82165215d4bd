"""Which firewall instance a tracked connection goes through, and the rule
that admitted it there: for `show flows` (its `firewall`,
`firewall_instance` and `rule`) and the data-path model.

A router that steers a connection pins a routing target in its ct mark
(engine/marks.py); the layout (engine/inspection.py) says which link and
instance each target of a namespace is. The rule is the first match of
the firewall's rules on the connection as the instance saw it: its zones
come from the legs it entered and left the instance by (for a wire, the
side where the connection entered the wire is its source side), and the
addresses, for a router at a wire's end, are the tuple the wire carried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sized
from dataclasses import dataclass

from engine.fwzones import Facing, facings, first_rule, zone_of
from engine.inspection import Hairpin, Layout, Wire
from engine.items import NetnsItem
from engine.marks import MODE_MASK, ORIGINAL, target_of
from engine.model import Config
from engine.origin import DEFAULT, Origin
from engine.plan import Plan

PROTO = {"tcp": 6, "udp": 17, "icmp": 1}


@dataclass(frozen=True)
class Passage:
    """A connection's way through a firewall instance."""

    firewall: str
    instance: int
    src: Facing  # the leg it entered the instance by
    dst: Facing  # the leg it left by
    entered_here: bool = True  # pinned where it entered the firewall's link (else: where it came out)

    def rule(self, config: Config, proto: str, src: str, dst: str, dport: int | None) -> Origin:
        """The firewall rule (or default) that decides this connection."""
        fw = config.require("firewall", self.firewall)
        decided = first_rule(fw, PROTO.get(proto, 0), zone_of(config, fw, self.src, src), zone_of(config, fw, self.dst, dst), dport)
        return Origin.of_entry("firewall", self.firewall, decided.seq if decided else DEFAULT)


class Passages:
    """(namespace, target) -> what the target is: a link's instance."""

    def __init__(self, config: Config, layout: Layout):
        self.index: dict[tuple[str, int], tuple[str, int, Facing, Facing]] = {}
        legs = {name: {f.ifname: f for f in facings(config, layout, name)} for name in layout.instances}
        links: list[Hairpin | Wire] = [*layout.hairpins, *layout.wires]
        for link in links:
            faces = legs.get(link.firewall, {})
            sides = [(link.side, link.side)] if isinstance(link, Hairpin) else [(link.a, link.b), (link.b, link.a)]
            for here, there in sides:
                if here.inst_if not in faces or there.inst_if not in faces:
                    continue
                for number in range(1, len(here.ifnames) + 1):
                    target = layout.target(here.ns, here.key, number)
                    self.index[(here.ns, target)] = (link.firewall, number, faces[here.inst_if], faces[there.inst_if])

    def of(self, ns: str, mark: int) -> Passage | None:
        """The passage of a connection a router tracks with `mark`: entering
        the wire here when pinned in the original direction, else arriving
        from the wire's other end."""
        found = self.index.get((ns, target_of(mark)))
        if found is None:
            return None
        firewall, number, here, there = found
        entered_here = bool(mark & MODE_MASK & ORIGINAL)
        return Passage(firewall, number, here, there, True) if entered_here else Passage(firewall, number, there, here, False)


def removed_instances(old: Plan, new: Plan) -> list[NetnsItem]:
    """Firewall instances a commit removes (their namespaces go, and with
    them the state of the connections they held)."""
    kept = set(new.namespaces())
    return [i for i in old.of_kind("ns") if isinstance(i, NetnsItem) and i.role == "firewall" and i.ns not in kept]


def held_messages(removed: list[NetnsItem], held: Mapping[str, Sized]) -> tuple[str, ...]:
    """`removed firewall fw1 instance 4, which held 12 connection(s)`, per instance."""
    return tuple(f"removed {i.origin}, which held {len(held.get(i.ns, []))} connection(s)" for i in removed)
