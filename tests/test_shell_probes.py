"""ping and traceroute as IOS users read them: marks in sequence order while
the echos go out, the success rate and round trips, hops named after the
node holding their address (in the source's own tenant when tenants overlap)."""

from __future__ import annotations

from pathlib import Path

from shell.probe_report import PingReport, TraceReport
from tests.configs import PORTAL
from tests.test_shell_support import Shell

LOST_THIRD = """\
PING 10.2.1.10 (10.2.1.10) 56(84) bytes of data.
64 bytes from 10.2.1.10: icmp_seq=1 ttl=61 time=0.103 ms
64 bytes from 10.2.1.10: icmp_seq=2 ttl=61 time=0.077 ms
64 bytes from 10.2.1.10: icmp_seq=4 ttl=61 time=0.083 ms
From 169.254.1.1 icmp_seq=5 Destination Net Unreachable

--- 10.2.1.10 ping statistics ---
6 packets transmitted, 3 received, +1 errors, 50% packet loss, time 1005ms
rtt min/avg/max/mdev = 0.077/0.088/0.103/0.011 ms
"""


def test_ping_marks_follow_the_sequence_as_the_output_streams() -> None:
    report = PingReport(6)
    shown = [report.feed(LOST_THIRD[i:i + 7]) for i in range(0, len(LOST_THIRD), 7)]  # any chunking
    assert "".join(shown) == "!!.!U"  # seq 3 is lost as soon as seq 4 answers
    assert report.finish() == ".\n"  # seq 6: sent, never answered
    assert report.summary() == "Success rate is 50 percent (3/6), round-trip min/avg/max = 0.077/0.088/0.103 ms"
    assert report.data() == {"sent": 6, "received": 3, "marks": "!!.!U.", "success_percent": 50, "rtt_min_ms": 0.077,
                             "rtt_avg_ms": report.data()["rtt_avg_ms"], "rtt_max_ms": 0.103}


def test_ping_with_nothing_answered() -> None:
    report = PingReport(3)
    report.feed("PING 10.9.9.9 (10.9.9.9) 56(84) bytes of data.\n\n--- 10.9.9.9 ping statistics ---\n"
                "3 packets transmitted, 0 received, 100% packet loss, time 405ms\n")
    assert report.finish() == "...\n"
    assert report.summary() == "Success rate is 0 percent (0/3)"


def test_traceroute_hops_are_named_in_the_source_tenant(tmp_path: Path) -> None:
    sh = Shell(tmp_path)
    sh.ok("configure", *PORTAL.splitlines(), "commit", "end")
    names = sh.api.hop_names("alice")
    # 10.1.1.1 is the gateway of wan-a, wan-b (and a hop of portal): alice's own segment decides
    assert names["10.1.1.1"] == "vpc wan-a router (hub core)"
    assert sh.api.hop_names("bill")["10.1.1.1"] == "vpc wan-b router (hub core)"
    assert names["10.1.1.10"] == "host alice" and names["10.1.200.10"] == "host portal1"
    router = next(a for a, n in names.items() if n == "segment cust-a router (hub core)")
    report = TraceReport(names)
    out = report.feed(f"traceroute to 172.31.255.10, 12 hops max\n 1  10.1.1.1  0.048 ms\n 2  {router}  0.030 ms\n 3  *\n")
    out += report.finish()
    assert out.splitlines() == ["  1 10.1.1.1         vpc wan-a router (hub core)               0.048 ms",
                                f"  2 {router:<15}  segment cust-a router (hub core)          0.030 ms", "  3 *"]
    assert report.hops[2] == {"hop": 3, "address": None, "node": None, "rtt_ms": None}
