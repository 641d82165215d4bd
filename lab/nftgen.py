"""nftables' ruleset generation of a namespace, and the one vpclab left there.

A table edited behind vpclab's back (`nft insert rule inet vpclab forward
accept`) keeps every counted entry, so comparing counters cannot see it,
and comparing the whole listing costs a `list table` per namespace (14 ms
for 600 rules) on every `show lab health`. The kernel numbers every
committed nftables transaction of a namespace: its generation id
(NFT_MSG_GETGEN), one small netlink request. It does not move when counters
count or when the packet path adds set elements, nor on listings; it moves
on every `nft` change in that namespace, to any table. So after each of
vpclab's own loads and removals in a namespace the generation is recorded
(`RUN_DIR/LAB/NS.nftgen`, beside the lab's other runtime files, which
destroy removes), and a generation that differs later means someone else
changed the ruleset there since (lab/realisers.py: the table is then
"different (changed behind vpclab's back)" and repair reloads it).

pyroute2's nftables message class encodes the request and decodes the
answer; its NFTSocket cannot be opened in another namespace without a
fork, so the socket is a plain one made inside the namespace
(lab/netns.socket_in).
"""

from __future__ import annotations

import os
import socket

from pyroute2.netlink import NLM_F_REQUEST
from pyroute2.netlink.nfnetlink import NFNL_SUBSYS_NFTABLES
from pyroute2.netlink.nfnetlink.nftsocket import NFT_MSG_GETGEN, NFT_MSG_NEWGEN, nft_gen_msg

from lab import netns, services

NETLINK_NETFILTER = 12
SUFFIX = ".nftgen"


def read(ns: str) -> int:
    """The ruleset generation of namespace `ns` now (OSError when it cannot be asked)."""
    sock = netns.socket_in(ns, socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    try:
        sock.settimeout(2.0)
        msg = nft_gen_msg()
        msg["header"]["type"] = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN
        msg["header"]["flags"] = NLM_F_REQUEST
        msg["header"]["sequence_number"] = 1
        msg["nfgen_family"] = socket.AF_UNSPEC
        msg.encode()
        sock.send(msg.data)
        data = sock.recv(4096)
    finally:
        sock.close()
    answer = nft_gen_msg(data)
    answer.decode()
    if answer["header"]["type"] != (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN:
        raise OSError(f"no nftables generation from {ns} (answer type {answer['header']['type']})")
    gen = answer.get_attr("NFTA_GEN_ID")
    if gen is None:
        raise OSError(f"no nftables generation from {ns}")
    return int(gen)


def _path(ns: str) -> str:
    return os.path.join(services.RUN_ROOT, ns.split("-", 1)[0], ns + SUFFIX)


def record(ns: str) -> None:
    """Remember the generation of `ns` as vpclab's (after vpclab changed its
    ruleset). Written by rename: a reader sees the old number or the new one."""
    try:
        gen = read(ns)
    except OSError:
        forget(ns)  # unknown: health falls back to comparing the counted entries
        return
    path = os.path.join(services.run_dir(ns.split("-", 1)[0]), ns + SUFFIX)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(str(gen))
    os.replace(tmp, path)


def recorded(ns: str) -> int | None:
    """The generation vpclab left in `ns` (None: none recorded or unreadable)."""
    try:
        with open(_path(ns)) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def forget(ns: str) -> None:
    """Drop the record of `ns` (its namespace or table is gone)."""
    try:
        os.unlink(_path(ns))
    except FileNotFoundError:
        pass


def changed(ns: str) -> bool | None:
    """Did something other than vpclab commit an nftables change in `ns`
    since vpclab's last one? None when that cannot be told (no record)."""
    before = recorded(ns)
    if before is None:
        return None
    try:
        return read(ns) != before
    except OSError:
        return None
