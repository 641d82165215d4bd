"""trace, verify and repair through the shell with a recording fabric: the
model's side, the grammar, and bad input named and refused."""

from __future__ import annotations

import json
from pathlib import Path

from tests.configs import PORTAL
from tests.test_shell_support import Shell


def built(tmp_path: Path) -> Shell:
    sh = Shell(tmp_path)
    sh.ok("configure", *PORTAL.splitlines(), "commit", "end")
    return sh


def failing(sh: Shell, line: str) -> str:
    sh.out.clear()
    assert not sh.interp.run(line), f"{line!r} succeeded: {sh.out}"
    return "\n".join(sh.out)


def test_trace_prints_the_prediction_and_fails_without_a_packet_that_agrees(tmp_path: Path) -> None:
    sh = built(tmp_path)
    out = failing(sh, "trace 172.31.255.10 from alice protocol tcp port 7")
    assert "Predicted:" in out and "snat 10.1.1.10 -> 100.64.1.10; share portal-a to segment provider" in out
    assert "dnat 172.31.255.10 -> 10.1.200.10" in out and "verdict: reachable" in out
    assert "DISAGREE at hop 1 (host alice): predicted egress eth0, observed no egress" in out
    data = json.loads(failing(sh, "trace 172.31.255.10 from alice protocol tcp port 7 | json").split("\n% ")[0])
    assert set(data) == {"predicted", "observed", "agree", "verdict", "reason", "first_difference"} and data["agree"] is False
    assert [h["node"] for h in data["predicted"]][2:4] == ["segment cust-a cxp core", "segment provider cxp core"]


def test_bad_trace_lines_are_refused_with_what_to_do(tmp_path: Path) -> None:
    sh = built(tmp_path)
    assert "protocol tcp needs a port" in failing(sh, "trace portal1 from alice protocol tcp")
    assert "icmp takes no port" in failing(sh, "trace portal1 from alice protocol icmp port 7")
    assert "host ghost does not exist" in failing(sh, "trace portal1 from ghost")
    assert "host nobody does not exist" in failing(sh, "trace nobody from alice")
    assert "segment nope does not exist" in failing(sh, "verify segment nope")
    assert "Invalid input" in failing(sh, "trace portal1 from alice protocol sctp")


def test_verify_lists_every_probe_and_fails_when_packets_disagree(tmp_path: Path) -> None:
    sh = built(tmp_path)
    out = failing(sh, "verify")
    assert "3 units" in out and "Disagreements:" in out
    assert "alice -> portal1 (172.31.255.10) tcp 7: intended reachable" in out  # the translated address
    assert "portal1 -> alice" not in out  # one-way share: intended unreachable, and nothing got through
    assert "% verify: 6 of 10 probes disagree" in out  # alice and bill to portal1: icmp, tcp 7, udp 7
    assert "Nothing to repair" in sh.ok("repair")
