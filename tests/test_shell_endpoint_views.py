"""Endpoints in `show vpc` and `verify` on the recording fabric: the
model's side (scope, addresses, intent, where delivery is checked) and the
matrix's shape. The packets' side is tests/test_lab_endpoint_views.py."""

from __future__ import annotations

import json
from pathlib import Path

from engine.compile.endpoint_layout import layout
from engine.ports import ProbeResult, ProbeSpec
from engine.testing import RecordingFabric
from engine.verify import plan_checks, units
from tests.configs import ENDPOINTS
from tests.test_shell_support import Shell


def built(tmp_path: Path) -> Shell:
    sh = Shell(tmp_path)
    sh.ok("configure", *ENDPOINTS.splitlines(), "commit", "end")
    return sh


def test_endpoints_are_target_columns_of_the_segments_that_reach_them(tmp_path: Path) -> None:
    sh = built(tmp_path)
    config = sh.api.running
    assert [u.name for u in units(config) if not u.hosts] == ["endpoint apiep", "endpoint s3ep"]
    assert [u.name for u in units(config, "prod") if not u.hosts] == ["endpoint apiep", "endpoint s3ep"]  # over eps-prod
    assert [u.name for u in units(config, "iso") if not u.hosts] == []  # iso reaches none
    eps = {ep.endpoint.name: ep for ep in layout(config).endpoints}
    checks = [c for c in plan_checks(sh.api.model(), units(config)) if c.dst.name == "endpoint s3ep"]
    by_host = {c.src_host: c for c in checks}
    assert set(by_host) == {"dns1", "e1", "w1", "n1", "p1", "q1", "i1"}
    assert {h for h, c in by_host.items() if c.intended} == {"dns1", "e1", "w1", "n1", "p1"}
    assert by_host["p1"].address == "100.64.50.20" and by_host["q1"].address == "10.50.1.20"
    assert all((c.protocol, c.port, c.observe_ns, c.via) == ("tcp", 443, "t-e-objstore", eps["s3ep"].link) for c in checks)
    sports = [c.sport for c in plan_checks(sh.api.model(), units(config)) if c.sport is not None]
    assert len(sports) == len(set(sports))  # two probes through one endpoint never share a source port


def test_verify_matrix_has_endpoint_columns_and_probes_from_the_link(tmp_path: Path) -> None:
    sh = built(tmp_path)
    sent: list[ProbeSpec] = []

    def probe_many(specs: list[ProbeSpec], timeout: float) -> list[ProbeResult]:
        sent.extend(specs)
        return [ProbeResult(False, None, "no kernel") for _ in specs]

    fabric = sh.api.fabric
    assert isinstance(fabric, RecordingFabric)
    fabric.probe_many = probe_many  # type: ignore[method-assign]
    sh.out.clear()
    assert not sh.interp.run("verify")
    out = "\n".join(sh.out)
    assert "  9  endpoint s3ep: tcp 443 endpoint-service objstore" in out
    assert "p1 -> endpoint-service objstore (100.64.50.20) tcp 443: intended reachable" in out
    rows = {line.split()[2]: line.split()[3:] for line in out.splitlines()[2:9]}
    assert set(rows) == {"dns1", "e1", "w1", "n1", "i1", "q1", "p1"}  # an endpoint has no row: it never probes
    assert rows["i1"][-2:] == [".", "."] and rows["w1"][-2:] == ["X", "X"]
    link = layout(sh.api.running).endpoints
    assert {(s.observe_ns, s.observe_src) for s in sent if s.port == 443} == {("t-e-objstore", next(e.link for e in link if e.service.name == "objstore"))}
    sh.out.clear()
    sh.interp.run("verify | json")
    data = json.loads(sh.out[0])
    assert {"index": 9, "name": "endpoint s3ep", "segment": "apps", "hosts": []} in data["units"]
    assert any(c["dst"] == "endpoint s3ep" and c["dst_host"] == "endpoint-service objstore" for c in data["checks"])


def test_show_vpc_lists_endpoints_in_text_and_json(tmp_path: Path) -> None:
    sh = built(tmp_path)
    out = sh.ok("show vpc endpoints")
    eps = {ep.endpoint.name: ep for ep in layout(sh.api.running).endpoints}
    assert ["s3ep", "objstore", "10.50.1.20", "443", eps["s3ep"].provider] in [line.split() for line in out.splitlines()]
    data = json.loads(sh.ok("show vpc endpoints | json"))
    assert data["endpoints"][1] == {"name": "s3ep", "service": "objstore", "address": "10.50.1.20", "port": 443,
                                    "provider": eps["s3ep"].provider}
