"""Argument types: what a token may be, why not, its value, its help and TAB.

Each type is declared once here and named in UPPERCASE in command syntax.
A type's `check` says why a token is refused (the shell prints it under the
caret: `% Port number <1-65535>: 99999 is out of range`), and its
`convert` gives the handler its value (numbers as int), so handlers never
convert by hand. Numbers are ASCII digits only: `str.isdigit` and `int`
also take `²`, `¹⁰` and Arabic-Indic digits, which a shell must not.

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
from typing import Any, Protocol

from engine.model import Config
from shell.grammar.chars import text_problem

NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,31}")
_DIGITS = re.compile(r"[0-9]+")


class Scope(Protocol):
    """What completion needs to know: the configuration and the mode's object."""

    @property
    def config(self) -> Config: ...

    @property
    def mode_object(self) -> object | None: ...


Completer = Callable[[Scope], list[str]]
Check = Callable[[str], "str | None"]


@dataclass(frozen=True)
class ArgType:
    """One argument type; `rest` types take the remainder of the line."""

    name: str
    placeholder: str
    help: str
    check: Check = field(compare=False)
    complete: Completer | None = field(default=None, compare=False)
    rest: bool = False
    convert: Callable[[str], Any] = field(default=str, compare=False)

    def accepts(self, token: str) -> bool:
        """True when the token is a value of this type."""
        return self.check(token) is None


def _ascii_number(token: str) -> str | None:
    """Why `token` is not a plain decimal number (ASCII digits, no sign)."""
    if _DIGITS.fullmatch(token):
        return None
    odd = next((c for c in token if not ("0" <= c <= "9")), "")
    if odd.isdigit() or odd.isdecimal() or odd.isnumeric():
        return f"{token} is not a number: '{odd}' is not an ASCII digit (use 0-9)"
    return f"{token} is not a number"


def name_problem(token: str) -> str | None:
    """Why `token` is not a configuration object name as CLI.md defines it."""
    if NAME_RE.fullmatch(token):
        return None
    if not token[:1].isascii() or not token[:1].isalpha():
        return f"{token} is not a name: a name starts with a letter (A-Z, a-z)"
    if len(token) > 32:
        return f"{token[:12]}... is not a name: at most 32 characters"
    odd = next(c for c in token if not re.fullmatch(r"[A-Za-z0-9_.-]", c))
    return f"{token} is not a name: '{odd}' is not allowed (letters, digits, _ . - only)"


def is_name(token: str) -> bool:
    """A configuration object name as CLI.md defines it."""
    return name_problem(token) is None


def _octets_problem(text: str) -> str | None:
    """What is wrong with the A.B.C.D part of an address or prefix, or None."""
    parts = text.split(".")
    if len(parts) != 4:
        return "it needs four numbers, A.B.C.D"
    for part in parts:
        if (why := _ascii_number(part)) is not None:
            return why
        if int(part) > 255:
            return f"{part} is above 255"
        if part != str(int(part)):
            return f"{part} has a leading zero"
    return None


def address_problem(token: str) -> str | None:
    """Why `token` is not a dotted-quad IPv4 address (no leading zeros, octets 0-255)."""
    why = _octets_problem(token)
    if why is None:
        ipaddress.IPv4Address(token)  # the library agrees by now; raises on a mistake here
        return None
    return f"{token} is not an IPv4 address: {why}"


def is_address(token: str) -> bool:
    """A dotted-quad IPv4 address (no leading zeros, each octet 0-255)."""
    return address_problem(token) is None


def prefix_problem(token: str) -> str | None:
    """Why `token` is not A.B.C.D/N (host bits are allowed here and judged by validation)."""
    addr, slash, length = token.partition("/")
    why = _octets_problem(addr) if slash else "it needs a length, A.B.C.D/N"
    if why is None and _ascii_number(length) is not None:
        why = f"the length {_ascii_number(length)}"
    elif why is None and (int(length) > 32 or length != str(int(length))):
        why = f"the length /{length} is not 0-32"
    return None if why is None else f"{token} is not an IPv4 prefix: {why}"


def is_prefix(token: str) -> bool:
    """A.B.C.D/N; host bits are allowed here and judged by validation."""
    return prefix_problem(token) is None


def _int_range(low: int, high: int) -> Check:
    def check(token: str) -> str | None:
        if (why := _ascii_number(token)) is not None:
            return why
        if token != str(int(token)):
            return f"{token} has a leading zero"
        if not low <= int(token) <= high:
            return f"{token} is out of range ({low}-{high})"
        return None

    return check


def _either(*checks: Check, what: str) -> Check:
    def check(token: str) -> str | None:
        problems = [c(token) for c in checks]
        return None if any(p is None for p in problems) else f"{token} is not {what}"

    return check


def _free_text(token: str) -> str | None:
    return text_problem(token)


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
        _TYPES[name] = ArgType(name, base.placeholder, base.help, base.check, _mode_items(attr, key), base.rest, base.convert)
    return _TYPES[name]


_TYPES: dict[str, ArgType] = {}


def declare(name: str, placeholder: str, help: str, check: Check, complete: Completer | None = None,
            rest: bool = False, convert: Callable[[str], Any] = str) -> ArgType:
    """Register a type under its UPPERCASE syntax name."""
    _TYPES[name] = ArgType(name, placeholder, help, check, complete, rest, convert)
    return _TYPES[name]


def arg_type(name: str) -> ArgType:
    """The type a syntax declaration names; unknown names fail at import."""
    try:
        return _TYPES[name]
    except KeyError:
        raise ValueError(f"unknown argument type {name!r}") from None


def _number(name: str, low: int, high: int, help: str) -> None:
    declare(name, f"<{low}-{high}>", help, _int_range(low, high), convert=int)


def _word(token: str) -> str | None:
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:/-]*", token):
        return None
    return f"{token} is not a word (letters, digits and _ . : / - only)"


declare("NAME", "WORD", "Name (a letter, then letters, digits, _ . -; at most 32)", name_problem)
declare("WORD", "WORD", "A word", _word)
declare("GROUP", "WORD", "Group name", name_problem, _groups)
for _kind, _type in [("cxp", "CXP"), ("segment", "SEGMENT"), ("vpc", "VPC"),
                     ("prefix-list", "PREFIX-LIST"), ("resource-share", "SHARE"),
                     ("firewall", "FIREWALL"), ("internet", "INTERNET"),
                     ("endpoint-service", "ENDPOINT-SERVICE")]:
    declare(_type, "WORD", f"Name of a {_kind}", name_problem, _kind_names(_kind))
declare("HOST", "WORD", "Host name", name_problem, _hosts)
declare("SUBNET", "WORD", "Subnet of this VPC", name_problem, _mode_items("subnets"))
declare("VPC-HOST", "WORD", "Host of this VPC", name_problem, _mode_items("hosts"))
declare("ZONE", "WORD", "Zone of this firewall", name_problem, lambda scope: sorted(set(_mode_items("zones")(scope))))
declare("TARGET", "WORD|A.B.C.D", "Host name or address",
        _either(name_problem, address_problem, what="a host name or an IPv4 address"), _hosts)
declare("ADDRESS", "A.B.C.D", "IPv4 address", address_problem)
declare("PREFIX", "A.B.C.D/N", "IPv4 prefix", prefix_problem)
declare("ADDRESS-OR-PREFIX", "A.B.C.D[/N]", "Address or prefix to look up",
        lambda t: prefix_problem(t) if "/" in t else address_problem(t))
_number("SEQ", 1, 65535, "Sequence number")
_number("PORT", 1, 65535, "Port number")
_number("LEN", 0, 32, "Prefix length")
_number("INSTANCES", 1, 8, "Number of instances")
_number("SECONDS", 1, 86400, "Seconds")
_number("TIMEOUT", 1, 60, "Seconds to wait for each answer")
_number("COUNT", 1, 1000, "Number of probes")
_number("LINES", 1, 1000, "Number of log lines (the newest)")
_number("LENGTH", 0, 512, "Lines per screen (0: no paging)")
_number("BACK", 1, 100, "How many commits back")
_number("COMMIT-ID", 0, 999999, "Commit number (show commit history; 0: the empty configuration)")
declare("FILE", "FILE", "File name", _free_text)
declare("LINE", "LINE", "Text to the end of the line", _free_text, rest=True)
declare("COMMAND", "COMMAND", "Command and its arguments", _free_text, rest=True)
declare("REGEX", "LINE", "Regular expression", _free_text, rest=True)
