"""Logging is rate-limited, with real packets: a flood of one denied 5-tuple
(a tenant retransmitting, or filling the disk on purpose) writes a bounded
number of `show log` lines while the counters count every packet, and a
single denied connection afterwards is still logged."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from engine.compile.policy import LOG_BURST, LOG_RATE
from lab import netns
from tests.test_lab_shares import built

pytestmark = pytest.mark.lab

LOGGED = """\
segment corp
 policy 10 deny udp group web group app eq 9001 log
 policy 20 inspect fw udp group web group app eq 9002
!
vpc web
 segment corp
 group web
 cidr 10.71.0.0/16
 subnet s 10.71.1.0/24
 host w1 10.71.1.10
!
vpc app
 segment corp
 group app
 cidr 10.72.0.0/16
 subnet s 10.72.1.0/24
 host a1 10.72.1.10
!
firewall fw
 zone web segment corp group web
 zone app segment corp group app
 rule 10 deny udp from web to app eq 9002 log
!
"""
W1, A1 = "10.71.1.10", "10.72.1.10"
FLOOD = 1000


def flood(lab: str, sport: int, dport: int, count: int) -> float:
    """`count` datagrams of one 5-tuple from w1 to a1; the seconds it took."""
    sock = netns.socket_in(f"{lab}-h-w1", socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((W1, sport))
    start = time.monotonic()
    try:
        for i in range(count):
            sock.sendto(b"x%d" % i, (A1, dport))
    finally:
        sock.close()
    return time.monotonic() - start


def lines(api: Any, origin: str, sport: int) -> list[str]:
    """The log lines of one entry for w1's source port `sport`, once the
    collector has caught up (some lines, and no more for half a second)."""
    seen, still, last = -1, 0, []
    for _ in range(100):
        last = [x for x in api.log(100_000) if f" {origin} " in x and f"{W1}:{sport} " in x]
        still = still + 1 if last and len(last) == seen else 0
        if still == 5:
            break
        seen = len(last)
        time.sleep(0.1)
    return last


@pytest.mark.parametrize("port, origin, scope", [(9001, "segment corp 10", ("segment", "corp")),
                                                 (9002, "firewall fw 10", ("firewall", "fw"))])
def test_a_flood_logs_a_bounded_number_of_lines_and_counts_every_packet(make_lab: Any, port: int, origin: str,
                                                                        scope: tuple[str, str]) -> None:
    api = built(make_lab, LOGGED)
    took = time.monotonic()
    flood(api.name, 40000, port, FLOOD)
    took = time.monotonic() - took
    got = lines(api, origin, 40000)
    bound = LOG_BURST + LOG_RATE * (took + 1)  # the burst, the rate over the flood's time, a second's slack
    assert 1 <= len(got) <= bound, (len(got), bound, api.log(5))
    print(f"{origin}: {FLOOD} packets in {took:.3f} s logged {len(got)} lines")
    counted = {r["seq"]: r["packets"] for r in api.policy_hits(*scope)}
    assert counted[10] >= FLOOD  # every packet counted, logged or not
    # the bucket refills: one more denied connection is logged
    time.sleep(LOG_BURST / LOG_RATE + 0.5)
    flood(api.name, 40001, port, 1)
    assert len(lines(api, origin, 40001)) == 1
