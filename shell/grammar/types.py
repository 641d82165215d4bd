"""Argument types: what a token may be, how it is shown in `?`, what TAB offers.

Each type is declared once here and named in UPPERCASE in command syntax.
Reference types (`VPC`, `SEGMENT`, ...) accept any well-formed name, because
a configuration may mention an object before declaring it (a segment policy
inspects a firewall declared further down a running-config); whether the
object exists is validation's business at commit. They complete from the
configuration in scope.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from engine.model import Config

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$")


class Scope(Protocol):
    """What completion needs to know: the configuration and the mode's object."""

    @property
    def config(self) -> Config: ...

    @property
    def mode_object(self) -> object | None: ...


Completer = Callable[[Scope], list[str]]


@dataclass(frozen=True)
class ArgType:
    """One argument type; `rest` types take the remainder of the line."""

    name: str
    placeholder: str
    help: str
    accepts: Callable[[str], bool] = field(compare=False)
    complete: Completer | None = field(default=None, compare=False)
    rest: bool = False


def is_name(token: str) -> bool:
    """A configuration object name as CLI.md defines it."""
    return bool(NAME_RE.match(token))


def is_address(token: str) -> bool:
    """A dotted-quad IPv4 address (no leading zeros, each octet 0-255)."""
    try:
        ipaddress.IPv4Address(token)
    except ValueError:
        return False
    return True


def is_prefix(token: str) -> bool:
    """A.B.C.D/N; host bits are allowed here and judged by validation."""
    addr, slash, length = token.partition("/")
    return bool(slash) and is_address(addr) and length.isdigit() and int(length) <= 32 and length == str(int(length))


def _int_range(low: int, high: int) -> Callable[[str], bool]:
    def accepts(token: str) -> bool:
        return token.isdigit() and low <= int(token) <= high and token == str(int(token))

    return accepts


def _kind_names(kind: str) -> Completer:
    return lambda scope: scope.config.names(kind)


def _hosts(scope: Scope) -> list[str]:
    return sorted(h.name for _v, h in scope.config.hosts())


def _groups(scope: Scope) -> list[str]:
    return sorted(scope.config.groups())


def _mode_items(attr: str, key: str = "name") -> Completer:
    def complete(scope: Scope) -> list[str]:
        return [str(getattr(i, key)) for i in getattr(scope.mode_object, attr, ())]

    return complete


def existing_items(attr: str, key: str, base: ArgType) -> ArgType:
    """`base` that completes the keys of the mode object's `attr` (for `no`)."""
    name = f"{base.name}@{attr}"
    if name not in _TYPES:
        _TYPES[name] = ArgType(name, base.placeholder, base.help, base.accepts, _mode_items(attr, key), base.rest)
    return _TYPES[name]


def _any(_token: str) -> bool:
    return True


_TYPES: dict[str, ArgType] = {}


def declare(name: str, placeholder: str, help: str, accepts: Callable[[str], bool],
            complete: Completer | None = None, rest: bool = False) -> ArgType:
    """Register a type under its UPPERCASE syntax name."""
    _TYPES[name] = ArgType(name, placeholder, help, accepts, complete, rest)
    return _TYPES[name]


def arg_type(name: str) -> ArgType:
    """The type a syntax declaration names; unknown names fail at import."""
    try:
        return _TYPES[name]
    except KeyError:
        raise ValueError(f"unknown argument type {name!r}") from None


declare("NAME", "WORD", "Name (a letter, then letters, digits, _ . -; at most 32)", is_name)
declare("WORD", "WORD", "A word", lambda t: bool(re.match(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$", t)))
declare("GROUP", "WORD", "Group name", is_name, _groups)
for _kind, _type in [("cxp", "CXP"), ("segment", "SEGMENT"), ("vpc", "VPC"),
                     ("prefix-list", "PREFIX-LIST"), ("resource-share", "SHARE"),
                     ("firewall", "FIREWALL"), ("internet", "INTERNET"),
                     ("endpoint-service", "ENDPOINT-SERVICE")]:
    declare(_type, "WORD", f"Name of a {_kind}", is_name, _kind_names(_kind))
declare("HOST", "WORD", "Host name", is_name, _hosts)
declare("SUBNET", "WORD", "Subnet of this VPC", is_name, _mode_items("subnets"))
declare("VPC-HOST", "WORD", "Host of this VPC", is_name, _mode_items("hosts"))
declare("TARGET", "WORD|A.B.C.D", "Host name or address",
        lambda t: is_name(t) or is_address(t), _hosts)
declare("ADDRESS", "A.B.C.D", "IPv4 address", is_address)
declare("PREFIX", "A.B.C.D/N", "IPv4 prefix", is_prefix)
declare("ADDRESS-OR-PREFIX", "A.B.C.D[/N]", "Address or prefix to look up",
        lambda t: is_address(t) or is_prefix(t))
declare("SEQ", "<1-65535>", "Sequence number", _int_range(1, 65535))
declare("PORT", "<1-65535>", "Port number", _int_range(1, 65535))
declare("LEN", "<0-32>", "Prefix length", _int_range(0, 32))
declare("INSTANCES", "<1-8>", "Number of instances", _int_range(1, 8))
declare("SECONDS", "<1-86400>", "Seconds", _int_range(1, 86400))
declare("TIMEOUT", "<1-60>", "Seconds to wait for each answer", _int_range(1, 60))
declare("COUNT", "<1-1000>", "Number of probes", _int_range(1, 1000))
declare("LENGTH", "<0-512>", "Lines per screen (0: no paging)", _int_range(0, 512))
declare("BACK", "<1-100>", "How many commits back", _int_range(1, 100))
declare("FILE", "FILE", "File name", _any)
declare("LINE", "LINE", "Text to the end of the line", _any, rest=True)
declare("COMMAND", "COMMAND", "Command and its arguments", _any, rest=True)
declare("REGEX", "LINE", "Regular expression", _any, rest=True)
