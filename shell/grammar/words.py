"""The glossary: the help of every keyword, declared once.

A command overrides an entry only where the word means something particular
to it; everywhere else `?` shows these lines. Each line gives one meaning:
a word that means different things in different commands (`ip` in `show ip
route` and in a policy, `count` after `ping` and after `|`) has its other
meanings declared with those commands, since help belongs to the position.
"""

from __future__ import annotations

GLOSSARY: dict[str, str] = {
    # modes and session
    "configure": "Enter configuration mode",
    "terminal": "Configure from the terminal",
    "exit": "Leave this mode (from exec: leave the shell)",
    "quit": "Leave the shell",
    "end": "Return to exec mode",
    "do": "Run an exec command from a configuration mode",
    "no": "Remove a configuration line or restore its default",
    "commit": "Apply the candidate configuration to the lab",
    "comment": "Comment recorded in the commit history",
    "check": "Validate and show the plan without applying it",
    "confirmed": "Roll back by itself unless confirmed by another commit",
    "abort": "Drop the candidate configuration and return to exec",
    "rollback": "Make an earlier configuration the running one",
    "load": "Read a configuration file into the candidate",
    "merge": "Add the file's configuration to the candidate",
    "replace": "Make the file's configuration the whole candidate",
    "save": "Write the running configuration to a file",
    "length": "Lines per screen for paged output",
    # show
    "show": "Show running system information",
    "running-config": "The committed configuration",
    "configuration": "The candidate configuration",
    "diff": "Candidate against running, as +/- lines",
    "history": "The commit history",
    "cxps": "Hubs (cloud exchange points)",
    "segments": "Segments",
    "vpcs": "VPCs and VNets",
    "hosts": "Hosts (workloads)",
    "groups": "Groups of VPCs and subnets",
    "prefix-lists": "Prefix lists",
    "shares": "Resource shares",
    "share": "Details of one resource share",
    "route": "Routes of the segment routers",
    "lab": "The lab: namespaces and state",
    "health": "Compare the kernel with the running plan",
    # probes
    "ping": "Send ICMP echo requests from a host",
    "traceroute": "Trace the route to a target from a host",
    "assert": "Fail the script unless a real probe agrees",
    "reachable": "The probe must get through end to end",
    "unreachable": "The probe must not get through",
    "from": "Source host",
    "count": "Number of probes to send",
    "timeout": "Seconds to wait for each answer",
    "protocol": "Probe protocol",
    "port": "Port number",
    "exec": "Run a command inside the host's namespace",
    # configuration objects
    "cxp": "A hub in one cloud region",
    "segment": "An isolated routing and policy domain",
    "vpc": "A VPC or VNet attached to a hub",
    "prefix-list": "An ordered list of prefix matches",
    "resource-share": "Open chosen prefixes between two segments",
    "firewall": "A zone-based firewall",
    "internet": "A simulated internet edge",
    "endpoint-service": "A provider service reached through endpoints",
    # object lines
    "cloud": "Cloud provider of this hub",
    "region": "Cloud region of this hub",
    "description": "Free text describing this object",
    "default-action": "Action for traffic no policy entry matches",
    "policy": "An ordered policy entry (first match wins)",
    "group": "Group name",
    "cidr": "An address range of this VPC (one or more)",
    "subnet": "A subnet; its gateway is its first address",
    "host": "A workload (one namespace, one interface)",
    "service": "A real server running on a host",
    "on": "The host that runs the service",
    "micro-segmentation": "Subnet-to-subnet traffic obeys the segment policy",
    "seq": "Sequence number of the entry",
    "ge": "Minimum prefix length to match",
    "le": "Maximum prefix length to match",
    "end-a": "One end of the share",
    "end-b": "The other end of the share",
    "direction": "Who may open connections (replies always flow)",
    "nat": "1:1 translation of an end's prefix as the other end sees it",
    "to": "Translated prefix",
    "inspect": "Send the traffic through a firewall",
    "log": "Log matches",
    # values
    "permit": "Allow",
    "deny": "Drop",
    "any": "Any address",
    "ip": "IP routing information",
    "tcp": "TCP",
    "udp": "UDP",
    "icmp": "ICMP",
    "eq": "One destination port",
    "range": "A range of destination ports",
    "aws": "Amazon Web Services",
    "azure": "Microsoft Azure",
    "gcp": "Google Cloud",
    "oci": "Oracle Cloud",
    "private": "A private data centre",
    "bidirectional": "Either end may open connections",
    "a-to-b": "Only end-a may open connections",
    "b-to-a": "Only end-b may open connections",
    "dns": "A DNS server answering the lab's names as the asker's segment sees them",
    "http": "An HTTP server",
    "tcp-echo": "A TCP echo server",
    "udp-echo": "A UDP echo server",
    # show / clear
    "services": "Services with state, address and process",
    "flows": "Tracked connections (conntrack) of the segment routers",
    "hits": "Packets and bytes per policy entry",
    "nonzero": "Only entries that matched something",
    "clear": "Reset counters or forget tracked connections",
    "counters": "Policy hit counters",
    # output filters
    "include": "Lines matching a regular expression",
    "exclude": "Lines not matching a regular expression",
    "begin": "From the first line matching a regular expression",
    "section": "Blocks whose first line matches a regular expression",
    "json": "The structured result as JSON",
}


def keyword_help(word: str) -> str:
    """The glossary line for a keyword ('' when none was declared)."""
    return GLOSSARY.get(word, "")
