"""Round trip: printer -> parser into an empty candidate gives the same Config and text."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import model
from engine.model import Config
from engine.validate.lines import cidr_problem, special_problem
from shell.loader import parse_config
from shell.printer import running_config

names = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)
octet = st.integers(0, 255)
addresses = st.tuples(octet, octet, octet, octet).map(lambda t: ".".join(map(str, t)))
# prefixes without host bits: the shell refuses the others at the line
prefixes = st.tuples(addresses, st.integers(0, 32)).map(
    lambda t: str(ipaddress.ip_network(f"{t[0]}/{t[1]}", strict=False)))
cidrs = prefixes.filter(lambda p: cidr_problem(p) is None)  # special ranges are refused at the line
words = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,10}", fullmatch=True)
text = st.lists(words, min_size=1, max_size=4).map(" ".join)
opt = st.none() | names


def keyed(strategy: st.SearchStrategy, key: str) -> st.SearchStrategy:  # type: ignore[type-arg]
    """Tuples of items with unique keys, sorted by key (the canonical form)."""
    return st.lists(strategy, max_size=4, unique_by=lambda i: getattr(i, key)).map(
        lambda items: tuple(sorted(items, key=lambda i: getattr(i, key))))


endpoint = st.sampled_from(["any"]) | addresses.map(lambda a: f"host {a}") | prefixes | names.map(
    lambda n: f"group {n}") | names.map(lambda n: f"prefix-list {n}")
ports = st.integers(1, 65535).map(lambda p: f"eq {p}") | st.tuples(st.integers(1, 9), st.integers(10, 99)).map(
    lambda t: f"range {t[0]} {t[1]}")


@st.composite
def policy(draw: st.DrawFn) -> model.PolicyEntry:
    action = draw(st.sampled_from(["permit", "deny"]))
    protocol = draw(st.sampled_from(["ip", "tcp", "udp", "icmp"]))
    return model.PolicyEntry(draw(st.integers(1, 65535)), action, protocol,
                             draw(endpoint), draw(endpoint), draw(st.none() | ports) if protocol in ("tcp", "udp") else None,
                             draw(names) if action == "inspect" else None, draw(st.booleans()))


cxps = st.builds(model.Cxp, names, st.none() | st.sampled_from(["aws", "azure", "gcp", "oci", "private"]),
                 st.none() | words, st.none() | text)
segments = st.builds(model.Segment, names, st.none() | text, st.sampled_from(["permit", "deny"]), keyed(policy(), "seq"))
subnets = st.builds(model.Subnet, names, prefixes, opt)
hosts = st.builds(model.Host, names, addresses, opt)
services = st.builds(model.Service, names, st.sampled_from(["dns", "http", "tcp-echo", "udp-echo"]), names,
                     st.none() | st.integers(1, 65535))
vpcs = st.builds(model.Vpc, names, opt, names, st.none() | text, opt,
                 st.lists(cidrs, max_size=3, unique=True).map(tuple), keyed(subnets, "name"),
                 keyed(hosts, "name"), keyed(services, "name"), st.just(()), st.booleans())
@st.composite
def entries(draw: st.DrawFn) -> model.PrefixListEntry:
    """Prefix-list entries with a valid ge/le (the shell refuses others at the line)."""
    prefix = draw(prefixes)
    plen = int(prefix.split("/")[1])
    ge = draw(st.none() | st.integers(plen + 1, 32)) if plen < 32 else None
    le = draw(st.none() | st.integers(max(ge or plen, plen), 32))
    return model.PrefixListEntry(draw(st.integers(1, 65535)), draw(st.sampled_from(["permit", "deny"])), prefix, ge, le)



prefix_lists = st.builds(model.PrefixList, names, keyed(entries(), "seq").filter(bool))
ends = st.none() | st.builds(model.ShareEnd, names, names)
nats = st.tuples(st.sampled_from(["end-a", "end-b"]), addresses, addresses, st.integers(0, 32)).map(
    lambda t: model.NatMap(t[0], str(ipaddress.ip_network(f"{t[1]}/{t[3]}", strict=False)),
                           str(ipaddress.ip_network(f"{t[2]}/{t[3]}", strict=False)))).filter(
    lambda n: special_problem(n.translated) is None)  # refused at the line
shares = st.builds(model.ResourceShare, names, ends, ends, st.sampled_from(["bidirectional", "a-to-b", "b-to-a"]),
                   keyed(nats, "end"), st.none(), st.none() | text)  # no firewalls yet


def by_name(strategy: st.SearchStrategy) -> st.SearchStrategy:  # type: ignore[type-arg]
    return st.lists(strategy, max_size=3, unique_by=lambda o: o.name).map(
        lambda objs: tuple(sorted(objs, key=lambda o: o.name)))


def unique_hosts(vpc_list: tuple[model.Vpc, ...]) -> bool:
    names_ = [h.name for v in vpc_list for h in v.hosts]
    return len(names_) == len(set(names_))


configs = st.builds(Config, by_name(cxps.filter(lambda c: c != model.Cxp("core"))), by_name(segments),
                    by_name(vpcs).filter(unique_hosts), by_name(prefix_lists), by_name(shares))


@settings(max_examples=150, deadline=None)
@given(configs)
def test_printed_config_parses_back_to_the_same(config: Config) -> None:
    text = running_config(config)
    again = parse_config(text)
    assert again == config
    assert running_config(again) == text
