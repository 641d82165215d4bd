"""Benchmark (issue 11): `show flows | count` over 100,000 connections crossing three routers.

Run: make bench   (or: .venv/bin/pytest -m bench -s tests/bench/test_bench_flows.py)
Target: within 2x the time of `conntrack -L` over the same namespaces, in one run.

The lab: segment `a` with a VPC on hub core, segment `b` with a VPC on hub
east, a share between them (carried on core): a datagram from `ha` to `hb`
crosses a@core, the share, b@core, the backbone and b@east, so each
connection has an entry in three routers (300,000 in all). The connections
are made with real packets: UDP datagrams from one host, many source ports
and a few destination ports, sent through a raw socket (the kernel tracks
and forwards each as any other).
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import time

import pytest

from lab import ctnetlink, netns
from shell.loader import parse_config
from tests.bench.quiet import wait_for_quiet

pytestmark = [pytest.mark.bench, pytest.mark.lab]

N = int(os.environ.get("BENCH_FLOWS", "100000"))
LAB = """\
cxp east
!
segment a
!
segment b
!
vpc va
 segment a
 cidr 10.1.0.0/16
 subnet s 10.1.1.0/24
 host ha 10.1.1.10
!
vpc vb
 segment b
 cxp east
 cidr 10.2.0.0/16
 subnet s 10.2.1.0/24
 host hb 10.2.1.10
!
prefix-list A seq 5 permit 10.1.0.0/16
!
prefix-list B seq 5 permit 10.2.0.0/16
!
resource-share ab
 end-a segment a prefix-list A
 end-b segment b prefix-list B
 direction a-to-b
"""


def _udp(src: str, dst: str, sport: int, dport: int) -> bytes:
    """An IPv4/UDP datagram with a header we write (IP_HDRINCL): any source port."""
    payload = b"x"
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))  # fmt: skip
    return ip + udp  # the kernel fills the IP checksum; a zero UDP checksum means none


def generate(ns: str, src: str, dst: str, n: int) -> None:
    """`n` distinct UDP connections from `src` to `dst`, paced so no queue overflows."""
    sock = netns.socket_in(ns, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        for i in range(n):
            sock.sendto(_udp(src, dst, 1024 + i % 60000, 5000 + i // 60000), (dst, 0))
            if i % 200 == 199:
                time.sleep(0.002)
    finally:
        sock.close()


def test_bench_flows(make_lab, capsys) -> None:  # type: ignore[no-untyped-def]
    api = make_lab()
    api.set_candidate(parse_config(LAB))
    api.commit()
    lab = api.name
    routers = [f"{lab}-s-a@core", f"{lab}-s-b@core", f"{lab}-s-b@east"]
    for ns in routers:  # unreplied datagrams are forgotten after 30 s by default
        netns.write_sysctls(ns, {"net.netfilter.nf_conntrack_udp_timeout": "900"})
    api.flows()  # opens the readers: conntrack timestamps on from here
    wait_for_quiet()
    start = time.perf_counter()
    generate(f"{lab}-h-ha", "10.1.1.10", "10.2.1.10", N)
    made = time.perf_counter() - start
    tables = ctnetlink.Tables()
    counts = {ns: len(entries) for ns, entries in tables.read(routers).items()}
    tables.close()
    assert all(c >= N * 0.99 for c in counts.values()), counts

    def conntrack_l() -> float:
        t0 = time.perf_counter()
        for ns in routers:
            proc = netns.popen_in(ns, ["conntrack", "-L"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            proc.communicate()
        return time.perf_counter() - t0

    def show_flows_count() -> tuple[float, str]:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "shell.main", "--lab", lab, "-c", "show flows | count"],
                             capture_output=True, text=True, env={**os.environ}, check=True).stdout  # fmt: skip
        return time.perf_counter() - t0, out.strip()

    pairs = [(conntrack_l(), show_flows_count()) for _ in range(5)]  # alternated: both meet the same load
    ratios = sorted(fl[0] / ct for ct, fl in pairs)
    t0 = time.perf_counter()
    rows = api.flows()
    in_process = time.perf_counter() - t0
    with capsys.disabled():
        print("\n| figure | measured | target |\n|---|---|---|")
        print(f"| generate {N} UDP connections (3 routers: {', '.join(str(c) for c in counts.values())} entries) | {made:.1f} s | |")
        print(f"| `conntrack -L` over the 3 routers (5 runs) | {', '.join(f'{ct:.2f}' for ct, _ in pairs)} s | |")
        print(f"| `vpclab -c 'show flows \\| count'` (5 runs; {pairs[0][1][1]}) | {', '.join(f'{fl[0]:.2f}' for _, fl in pairs)} s | |")
        print(f"| ratio, each run to the `conntrack -L` just before it (median) | {', '.join(f'{r:.2f}' for r in ratios)} ({ratios[2]:.2f}) | at most 2 |")
        print(f"| api.flows() in process: {len(rows)} rows with their path hops (JSON's rows) | {in_process:.2f} s | |")
    assert len(rows) >= N * 0.99
    assert all(len(r["path"]) == 4 for r in rows[:100])  # a@core, share ab, b@core, b@east
    del rows
    ended, after = _remove_the_share(api, routers)
    with capsys.disabled():
        print(f"| commit removing share ab: {ended[1]} | {ended[0]:.2f} s | |")
        print(f"| entries left in the 3 routers after it | {after} | 0 |")
    assert after == 0 and ended[1].startswith("ended ") and int(ended[1].split()[1]) >= N * 0.99, ended
    assert ratios[2] <= 2.0


def _remove_the_share(api, routers: list[str]) -> tuple[tuple[float, str], int]:  # type: ignore[no-untyped-def]
    """A commit that removes the share every connection crosses: it ends
    them all, on the three routers (engine/ending.py). (seconds, its line
    about it), and the entries left."""
    api.set_candidate(api.running.remove("resource-share", "ab"))
    t0 = time.perf_counter()
    result = api.commit()
    took = time.perf_counter() - t0
    line = next((m for m in result.messages if m.startswith("ended ")), "nothing ended: " + "; ".join(result.messages))
    tables = ctnetlink.Tables()
    left = sum(len(entries) for entries in tables.read(routers).values())
    tables.close()
    return (took, line), left
