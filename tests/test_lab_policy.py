"""Segment policy with real packets: the matrix, counters, log, commits that keep connections."""

from __future__ import annotations

import socket
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from lab import netns
from shell.loader import parse_config

pytestmark = pytest.mark.lab

GROUPS = {"g1": ("10.61.0.0/16", "h1", "10.61.1.10"), "g2": ("10.62.0.0/16", "h2", "10.62.1.10"), "g3": ("10.63.0.0/16", "h3", "10.63.1.10")}

POLICY = [
    (10, "permit", "tcp", "group g1", "group g2", "eq 443"),
    (20, "deny", "tcp", "group g1", "group g3", "range 20 30"),
    (30, "permit", "udp", "group g2", "group g3", "eq 53"),
    (40, "permit", "icmp", "group g3", "any", None),
    (50, "permit", "tcp", "any", "group g3", "range 1 1000"),
    (60, "deny", "udp", "group g1", "any", None),
]
PROBES = [("tcp", 22), ("tcp", 443), ("udp", 53), ("icmp", None)]


def lab_text(policy: list[tuple[Any, ...]]) -> str:
    lines = ["segment corp", " default-action deny"]
    for seq, action, proto, src, dst, ports in policy:
        lines.append(f" policy {seq} {action} {proto} {src} {dst}" + (f" {ports}" if ports else ""))
    lines.append("!")
    for group, (cidr, host, addr) in GROUPS.items():
        net = cidr.split(".0.0/")[0]
        lines += [f"vpc v{group}", " segment corp", f" group {group}", f" cidr {cidr}", f" subnet s {net}.1.0/24",
                  f" host {host} {addr}", f" service ssh tcp-echo on {host} port 22", f" service web tcp-echo on {host} port 443",
                  f" service dns udp-echo on {host} port 53", "!"]
    return "\n".join(lines) + "\n"


def expected(policy: list[tuple[Any, ...]], src: str, dst: str, proto: str, port: int | None) -> int | None:
    """The policy as an engineer reads it: first matching entry's seq (None: default deny)."""
    for seq, _action, p, s, d, ports in policy:
        if p != proto or s not in ("any", f"group {src}") or d not in ("any", f"group {dst}"):
            continue
        if ports:
            numbers = [int(x) for x in ports.split()[1:]]
            if not numbers[0] <= (port or 0) <= numbers[-1]:
                continue
        return seq
    return None


def admitted(policy: list[tuple[Any, ...]], seq: int | None) -> bool:
    return seq is not None and next(a for s, a, *_ in policy if s == seq) == "permit"


def probe_all(api: Any) -> dict[tuple[str, str, str, int | None], bool]:
    cases = [(a, b, p, port) for a in GROUPS for b in GROUPS if a != b for p, port in PROBES]

    def one(case: tuple[str, str, str, int | None]) -> bool:
        a, b, proto, port = case
        return bool(api.probe(GROUPS[b][1], GROUPS[a][1], proto, port, timeout=1.0).reachable)

    with ThreadPoolExecutor(8) as pool:
        return dict(zip(cases, pool.map(one, cases)))


def test_policy_matrix_and_hit_counters(make_lab: Any) -> None:
    api = make_lab()
    api.set_candidate(parse_config(lab_text(POLICY)))
    api.commit()
    results = probe_all(api)
    wrong = {c: r for c, r in results.items() if r != admitted(POLICY, expected(POLICY, *c))}
    assert not wrong, wrong
    assert any(results.values()) and not all(results.values())
    hits = {r["seq"]: r for r in api.policy_hits("segment", "corp")}
    matched = {expected(POLICY, *c) for c in results}
    for seq, *_ in POLICY:
        assert (hits[seq]["packets"] > 0) == (seq in matched), (seq, hits[seq])
    assert hits[None]["packets"] > 0 and hits[None]["action"] == "deny"  # the default caught the rest
    assert [r["seq"] for r in api.policy_hits("segment", "corp", nonzero=True)] == [s for s in hits if hits[s]["packets"]]
    # counters only grow with traffic, and clear counters zeroes them
    before = hits[10]["packets"]
    assert api.probe("h2", "h1", "tcp", 443).reachable
    assert {r["seq"]: r for r in api.policy_hits("segment", "corp")}[10]["packets"] > before
    assert api.clear_counters("segment", "corp") == 1
    assert all(r["packets"] == 0 for r in api.policy_hits("segment", "corp"))


def test_changing_one_entry_changes_only_that_and_keeps_connections(make_lab: Any) -> None:
    api = make_lab()
    api.set_candidate(parse_config(lab_text(POLICY)))
    api.commit()
    lab = api.name
    sock = netns.socket_in(f"{lab}-h-h1", socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(2)
    sock.connect(("10.62.1.10", 443))  # admitted by entry 10
    sock.sendall(b"one")
    assert sock.recv(10) == b"one"
    live = [f for f in api.flows(segment="corp", port=443) if f["state"] == "ESTABLISHED"]
    assert live and all(f["rule"] == "segment corp 10" and f["packets_out"] >= 3 for f in live), live
    before = probe_all(api)
    hits_before = {r["seq"]: r["packets"] for r in api.policy_hits("segment", "corp")}
    changed = [e if e[0] != 30 else (30, "deny", "udp", "group g2", "group g3", "eq 53") for e in POLICY]
    api.set_candidate(parse_config(lab_text(changed)))
    result = api.commit()
    assert result.changes.ops and {op.kind for op in result.changes.ops} == {"nft"}  # one table reload per router
    hits_after = {r["seq"]: r["packets"] for r in api.policy_hits("segment", "corp")}
    assert hits_after[10] >= hits_before[10] > 0  # unchanged entries keep their counters, as IOS does
    assert hits_after[30] == 0 < hits_before[30]  # the changed entry starts again
    sock.sendall(b"two")
    assert sock.recv(10) == b"two"  # the established connection survived the reload
    sock.close()
    after = probe_all(api)
    flipped = {c for c in before if before[c] != after[c]}
    assert flipped == {("g2", "g3", "udp", 53)}


def test_log_entries_reach_show_log(make_lab: Any) -> None:
    api = make_lab()
    text = lab_text(POLICY).replace(" policy 10 permit tcp group g1 group g2 eq 443", " policy 10 permit tcp group g1 group g2 eq 443 log")
    api.set_candidate(parse_config(text))
    api.commit()
    assert any(r["kind"] == "policy-log" and r["state"] == "running" for r in api.services())
    assert api.probe("h2", "h1", "tcp", 443).reachable
    deadline = time.time() + 3
    lines: list[str] = []
    while time.time() < deadline and not lines:
        lines = [ln for ln in api.log(50) if "segment corp 10 permit" in ln]
        time.sleep(0.05)
    assert lines and "tcp 10.61.1.10:" in lines[0] and "-> 10.62.1.10:443" in lines[0], api.log(50)


def test_micro_segmentation_between_subnets_of_one_vpc(make_lab: Any) -> None:
    api = make_lab()
    text = textwrap.dedent(
        """\
        segment corp
         policy 10 deny tcp group bu01 group bu02 eq 22
        !
        vpc shared
         segment corp
         cidr 10.30.0.0/16
         subnet bu01 10.30.1.0/24 group bu01
         subnet bu02 10.30.2.0/24 group bu02
         host a 10.30.1.10
         host a2 10.30.1.20
         host b 10.30.2.10
         service ssh tcp-echo on b port 22
         service ssh2 tcp-echo on a2 port 22
         service web tcp-echo on b port 443
        !
        """
    )
    api.set_candidate(parse_config(text))
    api.commit()
    assert api.probe("b", "a", "tcp", 22).reachable  # without micro-segmentation the VPC router does not filter
    api.set_candidate(parse_config(text + "vpc shared\n micro-segmentation\n"))
    api.commit()
    assert not api.probe("b", "a", "tcp", 22).reachable
    assert api.probe("b", "a", "tcp", 443).reachable  # default permit
    # inside one subnet traffic is bridged, never filtered (even with br_netfilter on the host)
    api.set_candidate(parse_config(text.replace(" policy 10 deny", " default-action deny\n policy 10 deny") + "vpc shared\n micro-segmentation\n"))
    api.commit()
    assert api.probe("a2", "a", "tcp", 22).reachable and api.probe("a2", "a", "icmp").reachable
    assert not api.probe("b", "a", "icmp").reachable
    assert {r["seq"]: r["packets"] for r in api.policy_hits("segment", "corp")}[10] > 0


def test_a_new_deny_ends_the_connections_it_refuses(make_lab: Any) -> None:
    """Conntrack would let an admitted connection flow after its entry became
    a deny; the commit ends exactly the connections the new policy refuses,
    in both directions, even when the server speaks first afterwards."""
    api = make_lab()
    api.set_candidate(parse_config(lab_text(POLICY)))
    api.commit()
    lab = api.name
    server = netns.socket_in(f"{lab}-h-h3", socket.AF_INET, socket.SOCK_STREAM)  # g3:900, entry 50
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("10.63.1.10", 900))
    server.listen(1)
    refused = netns.socket_in(f"{lab}-h-h1", socket.AF_INET, socket.SOCK_STREAM)
    refused.settimeout(1.0)
    refused.connect(("10.63.1.10", 900))
    server.settimeout(2.0)
    peer, _ = server.accept()
    peer.settimeout(1.0)
    refused.sendall(b"hi")
    assert peer.recv(10) == b"hi"
    kept = netns.socket_in(f"{lab}-h-h1", socket.AF_INET, socket.SOCK_STREAM)  # g1 -> g2:443, entry 10
    kept.settimeout(1.0)
    kept.connect(("10.62.1.10", 443))
    kept.sendall(b"hi")
    assert kept.recv(10) == b"hi"
    denied = [e if e[0] != 50 else (50, "deny", "tcp", "any", "group g3", "range 1 1000") for e in POLICY]
    api.set_candidate(parse_config(lab_text(denied)))
    result = api.commit()
    assert any("ended 1 connection" in m for m in result.messages), result.messages
    kept.sendall(b"still")
    assert kept.recv(10) == b"still"  # still admitted: untouched
    peer.sendall(b"server first")  # the reply direction speaks first: must not revive it
    with pytest.raises((socket.timeout, ConnectionError, OSError)):
        if not refused.recv(20):
            raise ConnectionError("closed")
    refused.sendall(b"client")
    with pytest.raises((socket.timeout, ConnectionError, OSError)):
        if not peer.recv(20):
            raise ConnectionError("closed")
    for sock in (refused, kept, peer, server):
        sock.close()
