"""The connection mark layout, in one place (docs/design.md, "Steering").

A router steers a connection by pinning a *target* in its conntrack mark
when the connection is new; every later packet gets the target back as its
packet mark, and a policy routing rule per target sends it to a table
whose only route leaves by that target's interface (a firewall instance's
leg, a backbone link, an internet edge's leg). Bits of the ct mark:

- 0x1 REFUSED: a commit's policy or firewall rules refused the connection
  (every forward chain drops it; flow readers leave it out);
- 0x2 ORIGIN: set where a connection enters the fabric (flow readers);
- 0xff00 TARGET: the routing target's index (1..255) in this namespace;
- 0x30000 MODE: when the target applies: ORIGINAL direction only (towards a
  firewall's hub, or the router where a connection enters a firewall wire),
  REPLY only (reply-to: answers leave by the leg the connection came in
  on), or BOTH (the router that hairpins a connection through a firewall);
- 0xff000000: inside a firewall instance, the source zone of a new
  connection (the instance steers nothing, so the bits are free there).

Targets come in blocks of eight, one block per steered link of a
namespace (a firewall's instances, a share's wire, one backbone link), so
instance N of a link is always the block's N-th target: changing a
firewall's instance count never renumbers the instances that stay, and
connections pinned to them keep their way. Blocks are chosen by a hash of
the link's name, probing in sorted order, so adding a link elsewhere leaves
a namespace's other targets alone unless two names collide.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

REFUSED = 0x1
ORIGIN = 0x2
TARGET_MASK = 0xFF00
TARGET_SHIFT = 8
ORIGINAL = 0x10000
REPLY = 0x20000
BOTH = ORIGINAL | REPLY
MODE_MASK = BOTH
ZONE_SHIFT = 24  # firewall instances: the source zone in the top byte

BLOCK = 8  # targets per steered link: one per firewall instance (1-8)
BLOCKS = 31  # blocks of a namespace: targets 1..248
TABLE_BASE = 1000  # target T: `ip rule` priority and routing table 1000+T

# the seed of every jhash the lab computes (instances, load-balancer backends);
# engine/jhash.py predicts the kernel's choice with it
JHASH_SEED = 0x76706C62


class TooManyLinks(ValueError):
    """A namespace steers more links than its mark has blocks for; `where`
    names the router as validation reports it."""

    def __init__(self, message: str, where: str = ""):
        super().__init__(message)
        self.where = where


def mark_of(target: int) -> int:
    """The packet mark that routes by `target`."""
    return target << TARGET_SHIFT


def target_of(mark: int) -> int:
    """The target index a (ct or packet) mark holds (0: none)."""
    return (mark & TARGET_MASK) >> TARGET_SHIFT


def table_of(target: int) -> int:
    """The routing table (and `ip rule` priority) of a target."""
    return TABLE_BASE + target


def blocks(keys: Iterable[str]) -> dict[str, int]:
    """Each steered link of one namespace -> the first target of its block.

    A link's block is a hash of its name; a collision moves the later name
    (in sorted order) to the next free block."""
    used: set[int] = set()
    out: dict[str, int] = {}
    for key in sorted(set(keys)):
        block = zlib.crc32(key.encode()) % BLOCKS
        for _ in range(BLOCKS):
            if block not in used:
                break
            block = (block + 1) % BLOCKS
        else:
            raise TooManyLinks(f"more than {BLOCKS} steered links")
        used.add(block)
        out[key] = block * BLOCK + 1
    return out


def routed_mark(ct_mark: int | None, direction: int) -> int:
    """The packet mark a connection's packets of one direction (ORIGINAL or
    REPLY) get from its ct mark: its target when pinned for that direction."""
    return (ct_mark or 0) & TARGET_MASK if (ct_mark or 0) & direction else 0


def pin_value(target: int, mode: int) -> int:
    """The ct mark bits that pin a target in a mode."""
    return mark_of(target) | mode
