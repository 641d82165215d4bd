"""The show and clear commands of shares, services and policy, through the shell
(a recording fabric: what the views compute from the running configuration)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.configs import PORTAL
from tests.test_shell_support import Shell

POLICY = """\
segment provider
 default-action deny
 policy 10 permit tcp group web any eq 80 log
!
vpc portal
 group web
!
"""


def built(tmp_path: Path) -> Shell:
    sh = Shell(tmp_path)
    sh.ok("configure", *(PORTAL + POLICY).splitlines(), "commit", "end")
    return sh


def data(sh: Shell, line: str):  # type: ignore[no-untyped-def]
    text = sh.ok(f"{line} | json")
    return json.loads(text[text.index("[") if text.lstrip().startswith("[") else text.index("{"):])


def test_prefix_lists_shares_and_share_detail(tmp_path: Path) -> None:
    sh = built(tmp_path)
    lists = {(r["name"], r["prefix"]) for r in data(sh, "show prefix-lists")}
    assert lists == {("CUST", "10.1.1.0/24"), ("PORTAL", "10.1.200.10/32")}
    shares = {r["name"]: r for r in data(sh, "show shares")}
    assert shares["portal-a"]["direction"] == "a-to-b" and "end-a 10.1.1.0/24->100.64.1.0/24" in shares["portal-a"]["nat"]
    detail = data(sh, "show share portal-b")
    crossing = {(r["from"], r["prefix"], r["original_prefix"]) for r in detail["admitted"]}
    assert crossing == {("end-a (cust-b)", "100.64.2.0/24", "10.1.1.0/24"), ("end-b (provider)", "172.31.255.10/32", "10.1.200.10/32")}
    assert detail["opens"] == "end-a"
    assert "Admitted prefixes" in sh.ok("show share portal-b")


def test_groups_services_and_policy_hits(tmp_path: Path) -> None:
    sh = built(tmp_path)
    groups = data(sh, "show groups")
    assert groups == [{"group": "web", "segment": "provider", "vpcs": ["portal"], "subnets": [], "prefixes": ["10.1.0.0/16"]}]
    services = {r["name"]: r for r in data(sh, "show services")}
    assert services["echo"]["port"] == 7 and services["uecho"]["kind"] == "udp-echo" and services["echo"]["address"] == "10.1.200.10"
    assert services["echo"]["state"] == "down"  # a recording fabric runs nothing
    hits = data(sh, "show policy hits segment provider")
    assert [(r["seq"], r["action"], r["match"]) for r in hits] == [
        (10, "permit", "tcp group web any eq 80 log"), (None, "deny", "default-action")]
    shares = {r["name"] for r in data(sh, "show policy hits share portal-a")}
    assert shares == {"portal-a"}
    assert "No policy entries with counters." in sh.ok("show policy hits nonzero")
    assert "Counters cleared in" in sh.ok("clear counters segment provider")
    assert "The policy log is empty." in sh.ok("show log")


def test_unknown_names_in_show_and_clear_are_errors(tmp_path: Path) -> None:
    sh = built(tmp_path)
    for line in ("show policy hits segment nope", "clear counters share nope", "show share nope", "show flows segment nope",
                 "show ip route segment nope"):
        out = sh.run(line)
        assert "% " in out and "nope does not exist" in out, (line, out)
