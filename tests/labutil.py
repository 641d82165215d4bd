"""Helpers for lab tests: small fabrics as Configs, and real-packet checks."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

from engine.model import Config, Cxp, Host, Segment, Subnet, Vpc
from lab import inventory, netns


def vpc(name: str, segment: str, cidr: str, hosts: dict[str, str], cxp: str = "core") -> Vpc:
    """A VPC with one subnet (the cidr's first /24) and the given hosts."""
    base = cidr.split("/")[0].rsplit(".", 2)[0]
    subnet = f"{base}.1.0/24"
    return Vpc(
        name,
        segment=segment,
        cxp=cxp,
        cidrs=(cidr,),
        subnets=(Subnet("s1", subnet),),
        hosts=tuple(Host(h, a) for h, a in hosts.items()),
    )


def fabric(segments: list[str], cxps: list[str], vpcs: list[Vpc]) -> Config:
    """A Config from parts."""
    config = Config(cxps=tuple(Cxp(c) for c in cxps if c != "core"), segments=tuple(Segment(s) for s in segments))
    for v in vpcs:
        config = config.put("vpc", v)
    return config


def ping(ns: str, address: str, timeout: float = 1.0) -> bool:
    """One real ICMP echo from a namespace; True when answered."""
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, "ping", "-n", "-c", "1", "-W", str(timeout), address],
        capture_output=True,
    )
    return proc.returncode == 0


def ping_many(pairs: list[tuple[str, str]], timeout: float = 1.0) -> dict[tuple[str, str], bool]:
    """Ping many (namespace, address) pairs concurrently."""
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda p: ping(p[0], p[1], timeout), pairs))
    return dict(zip(pairs, results))


def kernel_state(prefix: str) -> dict[str, object]:
    """Everything the kernel holds for a lab: namespaces with links, addresses,
    our routes (of every table) and our policy routing rules."""
    out: dict[str, object] = {}
    for ns in netns.list_names(prefix):
        st = inventory.read_ns(ns)
        links = {k: dict(v) for k, v in st.links.items()}
        out[ns] = (links, sorted(st.addrs), sorted(st.routes.items()), sorted(st.rules.items()))
    return out
