"""vpclab's mark on the namespaces it creates, and who owns a namespace.

Namespace names carry the lab's prefix (`LAB-`), but anyone can make a
namespace with such a name (`ip netns add LAB-foreign`), and destroy must
never remove one vpclab did not create, nor end the processes in it. So
each namespace is marked when it is created: the alias of its `lo` link
says `vpclab lab LAB`. The mark lives in the kernel object itself, so it
is there whatever happened to the state files, and goes with the
namespace. Only marked namespaces are removed; others are reported.
"""

from __future__ import annotations

from collections.abc import Iterable

from lab import netns, nlread, rtnl

LO_INDEX = 1


def mark(lab: str) -> str:
    """The alias of `lo` in every namespace of `lab`."""
    return f"vpclab lab {lab}"


def lab_of(ns: str) -> str:
    """The lab a namespace name belongs to (lab names hold no `-`)."""
    return ns.split("-", 1)[0]


def mark_request(ns: str) -> rtnl.Request:
    """The request that marks a new namespace as its lab's."""
    return rtnl.Request(ns, rtnl.link_alias(LO_INDEX, mark(lab_of(ns))))


def owner(ns: str) -> str | None:
    """The lab whose mark a namespace carries (None: no vpclab mark, or the
    namespace cannot be read)."""
    try:
        ch = rtnl.Channel(ns)
    except OSError:
        return None
    try:
        lo = nlread.link(ch, LO_INDEX)
    except OSError:
        return None
    finally:
        ch.close()
    return of_alias(lo.alias) if lo is not None else None


def of_alias(alias: str) -> str | None:
    """The lab a `lo` alias marks as its own, or None."""
    prefix = mark("")
    return alias[len(prefix):] if alias.startswith(prefix) else None


def partition(names: Iterable[str], lab: str, known: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """(ours, foreign): the namespaces marked as `lab`'s, and the others.
    An unmarked one that the lab's running plan names (`known`) is ours too:
    made by a vpclab from before the marks."""
    planned = set(known)
    ours: list[str] = []
    foreign: list[str] = []
    for name in names:
        mark = owner(name) if netns.exists(name) else ""
        (ours if mark == lab or (mark is None and name in planned) else foreign).append(name)
    return ours, foreign


def adopt(ns: str) -> None:
    """Mark a namespace of the running plan that has no mark (made by a
    vpclab from before the marks), so that it is recognised from now on."""
    ch = rtnl.Channel(ns)
    try:
        ch.execute([mark_request(ns)])
    finally:
        ch.close()
