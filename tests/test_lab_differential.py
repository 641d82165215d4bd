"""The differential test: the data-path model against real packets.

Hypothesis generates fabrics (one or two hubs, segments whose VPCs reuse
the same cidrs, groups, micro-segmentation, segment policies, resource
shares with direction and NAT on either end, endpoints of an endpoint
service, and half of the time a firewall that policy entries and shares
inspect with), each is built for real, and every ordered pair of hosts is
traced with icmp, tcp and udp, and every host to every endpoint with icmp
and tcp, all probes at once: the predicted hops and verdict must be what
the packet did. A failure prints the run's seed (VPCLAB_DIFF_SEED replays it) and the
configuration as CLI text (load it with `vpclab -f`); VPCLAB_DIFF_FABRICS
sets how many fabrics (20 by default).
"""

from __future__ import annotations

import ipaddress
import os
import random
from itertools import permutations
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, note, seed, settings
from hypothesis import strategies as st

from engine.api import LabApi
from engine.compile.endpoint_layout import layout, reach
from engine.model import Config
from engine.trace import Ask, trace_many
from engine.validate import validate
from engine.verify import address_for
from lab.fabric import LinuxFabric
from shell.loader import parse_config
from tests.conftest import new_lab_name

pytestmark = pytest.mark.lab

CIDRS = ("10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16")
PORT = 7
FABRICS = int(os.environ.get("VPCLAB_DIFF_FABRICS", "20"))
# each run draws its fabrics from a seed of its own, printed with a failure
SEED = int(os.environ.get("VPCLAB_DIFF_SEED") or random.randrange(2**32))
TIMEOUT = 1.0  # per probe; all probes of a fabric run at once


class _Fabric:
    """The generator's working state: blocks of CLI text and what exists."""

    def __init__(self) -> None:
        self.blocks: list[list[str]] = []
        self.segments: dict[str, list[str]] = {}  # segment -> its VPCs' cidrs
        self.prefixes: dict[str, list[str]] = {}  # segment -> prefixes a share may offer
        self.groups: dict[str, set[str]] = {}
        self.hosts: dict[str, list[str]] = {}  # segment -> host addresses (and endpoints': policy terms)
        self.endpoints = 0
        self.nat = 0

    def text(self) -> str:
        return "\n!\n".join("\n".join(b) for b in self.blocks) + "\n"


def _vpc(draw: st.DrawFn, f: _Fabric, i: int, hubs: list[str], segs: list[str], hosts_left: int) -> int:
    """One VPC block; returns how many hosts it got."""
    seg = draw(st.sampled_from(segs))
    free = [c for c in CIDRS if c not in f.segments[seg]]
    if not free or hosts_left <= 0:
        return 0
    cidr = draw(st.sampled_from(free))
    f.segments[seg].append(cidr)
    base = cidr.rsplit(".", 2)[0]
    lines = [f"vpc v{i}", f" segment {seg}", f" cxp {draw(st.sampled_from(hubs))}", f" cidr {cidr}"]
    f.prefixes[seg].append(cidr)
    made = 0
    for k in range(draw(st.integers(1, 2))):
        group = draw(st.sampled_from([None, "g0", "g1"]))
        lines.append(f" subnet n{k} {base}.{k + 1}.0/24" + (f" group {group}" if group else ""))
        f.prefixes[seg].append(f"{base}.{k + 1}.0/24")
        if group:
            f.groups[seg].add(group)
        for last in ((10, 20) if k == 0 and draw(st.booleans()) else (10,)):
            if made >= hosts_left:
                break
            host = f"h{i}{k}{last}"
            lines.append(f" host {host} {base}.{k + 1}.{last}")
            f.hosts[seg].append(f"{base}.{k + 1}.{last}")
            for kind in draw(st.sets(st.sampled_from(["tcp-echo", "udp-echo"]))):
                lines.append(f" service {kind[0]}{host} {kind} on {host} port {PORT}")
            made += 1
    if sum(1 for ln in lines if ln.startswith(" subnet")) == 2 and draw(st.booleans()):
        lines.append(" micro-segmentation")
    if draw(st.booleans()):  # an endpoint of the lab's endpoint service, beside the hosts of the first subnet
        lines.append(f" endpoint e{i} service es address {base}.1.30")
        f.hosts[seg].append(f"{base}.1.30")
        f.endpoints += 1
    f.blocks.append(lines)
    return made


def _policy(draw: st.DrawFn, f: _Fabric, seg: str, actions: list[str]) -> list[str]:
    """A segment's default action and a few entries over what it holds."""
    lines = [f"segment {seg}"]
    if draw(st.booleans()):
        lines.append(" default-action deny")
    terms = ["any", *[f"group {g}" for g in sorted(f.groups[seg])], *[f"host {a}" for a in f.hosts[seg]], *f.segments[seg]]
    for n in range(draw(st.integers(0, 3))):
        proto = draw(st.sampled_from(["ip", "tcp", "udp", "icmp"]))
        ports = draw(st.sampled_from([None, f"eq {PORT}", "range 1 6", "range 1 100"])) if proto in ("tcp", "udp") else None
        entry = f" policy {(n + 1) * 10} {draw(st.sampled_from(actions))} {proto} "
        lines.append(entry + f"{draw(st.sampled_from(terms))} {draw(st.sampled_from(terms))}" + (f" {ports}" if ports else ""))
    return lines


def _firewall(draw: st.DrawFn, hubs: list[str], segs: list[str]) -> list[str]:
    """A firewall on one of the hubs: a zone per segment, a few rules."""
    lines = ["firewall fw", f" cxp {draw(st.sampled_from(hubs))}", f" instances {draw(st.integers(1, 3))}"]
    lines += [f" zone z{s} segment {s}" for s in segs]
    zones = ["any", *[f"z{s}" for s in segs]]
    for n in range(draw(st.integers(0, 3))):
        proto = draw(st.sampled_from(["ip", "tcp", "udp", "icmp"]))
        ports = draw(st.sampled_from([None, f"eq {PORT}", "range 1 6"])) if proto in ("tcp", "udp") else None
        lines.append(f" rule {(n + 1) * 10} {draw(st.sampled_from(['permit', 'deny']))} {proto} from {draw(st.sampled_from(zones))} "
                     f"to {draw(st.sampled_from(zones))}" + (f" {ports}" if ports else ""))
    if draw(st.booleans()):
        lines.append(" default-action permit")
    return lines


def _overlaps(prefix: str, taken: list[str]) -> bool:
    net = ipaddress.ip_network(prefix)
    return any(net.overlaps(ipaddress.ip_network(t)) for t in taken)


def _share(draw: st.DrawFn, f: _Fabric, i: int, segs: list[str], imported: dict[str, list[str]], firewall: bool) -> None:
    """A share between two segments with VPCs; NAT where an import would
    collide with the receiver's space (else sometimes anyway)."""
    live = [s for s in segs if f.segments[s]]
    if len(live) < 2:
        return
    a, b = draw(st.permutations(live))[:2]
    offer = {a: draw(st.sampled_from(f.prefixes[a])), b: draw(st.sampled_from(f.prefixes[b]))}
    lines = [f"resource-share x{i}", f" end-a segment {a} prefix-list P{i}a", f" end-b segment {b} prefix-list P{i}b",
             f" direction {draw(st.sampled_from(['bidirectional', 'a-to-b', 'b-to-a']))}"]  # fmt: skip
    if firewall and draw(st.booleans()):
        lines.append(" inspect firewall fw")
    for end, seg, other in (("end-a", a, b), ("end-b", b, a)):
        seen = offer[seg]
        if _overlaps(seen, f.segments[other] + imported[other]) or draw(st.booleans()):
            f.nat += 1
            net = ipaddress.ip_network(seen)
            seen = f"100.{64 + f.nat}.0.0/16" if net.prefixlen == 16 else f"100.64.{f.nat}.0/24"
            lines.append(f" nat {end} {offer[seg]} to {seen}")
        imported[other].append(seen)
    f.blocks.append([f"prefix-list P{i}a seq 5 permit {offer[a]}"])
    f.blocks.append([f"prefix-list P{i}b seq 5 permit {offer[b]}"])
    f.blocks.append(lines)


@st.composite
def fabrics(draw: st.DrawFn) -> str:
    """A whole lab configuration as CLI text."""
    f = _Fabric()
    hubs = draw(st.sampled_from([["core"], ["core", "east"]]))
    segs = [f"s{i}" for i in range(draw(st.integers(2, 3)))]
    for s in segs:
        f.segments[s], f.prefixes[s], f.groups[s], f.hosts[s] = [], [], set(), []
    if "east" in hubs:
        f.blocks.append(["cxp east"])
    left = 6
    for i in range(draw(st.integers(2, 4))):
        left -= _vpc(draw, f, i, hubs, segs, left)
    firewall = draw(st.booleans())  # a firewall that policies and shares may inspect with
    actions = ["permit", "deny", "inspect fw"] if firewall else ["permit", "deny"]
    f.blocks[len(hubs) - 1:len(hubs) - 1] = [_policy(draw, f, s, actions) for s in segs]
    if firewall:
        f.blocks.append(_firewall(draw, hubs, segs))
    imported: dict[str, list[str]] = {s: [] for s in segs}
    for i in range(draw(st.integers(1, 2))):
        _share(draw, f, i, segs, imported, firewall)
    if f.endpoints:
        f.blocks.insert(len(hubs) - 1, ["endpoint-service es", " kind tcp-echo", f" port {PORT}"])
    return f.text()


def _endpoint_asks(config: Config) -> list[Ask]:
    """Every host to every endpoint, at the address its segment reaches it
    by (the endpoint's own where none: the model must agree on refusals too)."""
    out = []
    for ep in layout(config).endpoints:
        seen = {r.segment: r.address for r in reach(config, ep)}
        for vpc, host in config.hosts():
            address = seen.get(vpc.segment or "", ep.address)
            out += [Ask(host.name, address, proto, port) for proto, port in (("icmp", None), ("tcp", PORT))]
    return out


def _report(text: str, bad: list[tuple[Ask, object]]) -> str:
    lines = [f"{len(bad)} trace(s) disagree (seed {SEED}: VPCLAB_DIFF_SEED={SEED} .venv/bin/pytest {__file__} replays the run);",
             "the configuration (vpclab -f):", text]
    for ask, r in bad[:10]:
        lines.append(f"trace {ask.address} from {ask.host} protocol {ask.protocol}" + (f" port {ask.port}" if ask.port else "")
                     + f" (meaning host {ask.target_host}): {r.difference.sentence()}")  # type: ignore[attr-defined]
        lines += [f"    predicted {h.compared()} {h.rule or ''}" for h in r.walk.hops]  # type: ignore[attr-defined]
        lines += [f"    observed  {h.compared()}" for h in r.observed]  # type: ignore[attr-defined]
        lines.append(f"    the probe: {r.probe.detail}")  # type: ignore[attr-defined]
    return "\n".join(lines)


@seed(SEED)
@settings(max_examples=FABRICS, deadline=None, print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(fabrics())
def test_the_model_agrees_with_real_packets(state_dir: Path, text: str) -> None:
    config = parse_config(text)
    problems = validate(config)
    note(text)
    assume(not problems)
    name = new_lab_name()
    api = LabApi(name, LinuxFabric(name))
    try:
        api.set_candidate(config)
        api.commit()
        asks = [Ask(h1.name, address_for(config, v1, v2, h2), proto, port, h2.name, h2.name)
                for (v1, h1), (v2, h2) in permutations(config.hosts(), 2)
                for proto, port in (("icmp", None), ("tcp", PORT), ("udp", PORT))]  # fmt: skip
        asks += _endpoint_asks(config)
        results = trace_many(api.model(), api.fabric, asks, TIMEOUT)
        bad = [(a, r) for a, r in zip(asks, results, strict=True) if not r.agree]
        assert not bad, _report(text, bad)
    finally:
        api.destroy()
