"""The shared examples, each run through the program with `trace` lines added.

Every example's own `assert` lines must pass, and every added `trace` must
end with `agree` (a DISAGREE fails its line, so the run exits 1). The
examples of features not built yet (firewalls, the internet edge) carry
their trace expectations already, as strict expected failures: when the
feature lands, the run passes, the strict xfail turns that into a
failure, and removing the mark switches the example on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import netns, services
from shell import main as program
from tests.conftest import new_lab_name
from tests.paths import example

pytestmark = pytest.mark.lab

TRACES = {
    "shared-services.cli": [
        "trace dns1 from papp1 protocol udp port 53",
        "trace ad1 from dapp1 protocol tcp port 389",
        "trace ad1 from papp1 protocol tcp port 389",
        "trace dapp1 from papp1",  # prod and nonprod stay apart
        "trace papp1 from dns1",  # one-way: shared does not open towards prod
    ],
    "overlapping-tenants.cli": [
        "trace 172.31.255.10 from alice protocol tcp port 80",
        "trace 172.31.255.10 from bill protocol tcp port 80",
        "trace portal1 from alice",  # the provider's own address means nothing in cust-a
    ],
    "micro-segmentation.cli": [
        "trace bu02-a from bu01-a protocol tcp port 443",
        "trace bu02-a from bu01-a protocol tcp port 22",
        "trace bu01-a from bu02-a protocol tcp port 443",
        "trace bu02-a from bu01-a",
    ],
    "firewall-insertion.cli": [
        "trace web-out from s1web protocol tcp port 80",
        "trace s2app from s1web protocol tcp port 8080",
        "trace s2app from s1web protocol tcp port 22",
        "trace 198.51.100.10 from web-out protocol tcp port 80",
    ],
    "private-endpoints.cli": [  # the example traces 10.50.1.20 itself
        "trace 10.50.1.20 from aks1 protocol tcp port 443",
        "trace 10.50.1.20 from aks1",  # the endpoint's router answers ping
        "trace 10.50.1.20 from aks1 protocol tcp port 80",  # only the service's port is translated: RST
    ],
}
NOT_YET = {
    "firewall-insertion.cli": "firewalls and the internet edge are not built yet",
}


def _examples() -> list[object]:
    return [pytest.param(name, marks=pytest.mark.xfail(reason=NOT_YET[name], strict=True)) if name in NOT_YET else name
            for name in sorted(TRACES)]  # fmt: skip


@pytest.mark.parametrize("name", _examples())
def test_example_with_traces(name: str, state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / name
    script.write_text(example(name).read_text() + "\n".join(TRACES[name]) + "\n")
    lab = new_lab_name()
    try:
        status = program.main(["--lab", lab, "-f", str(script)])
        out, err = capsys.readouterr()
        assert status == 0, err
        traced = len(TRACES[name]) + sum(1 for line in example(name).read_text().splitlines() if line.startswith("trace "))
        assert sum(1 for line in out.splitlines() if line == "agree") == traced, out
        assert "DISAGREE" not in out and "assert failed" not in out
    finally:
        program.main(["--lab", lab, "destroy"])
        assert not netns.list_names(lab + "-")
        assert not services.scan(services.marker(lab + "/"))
