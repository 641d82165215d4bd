"""The little language in which every command's syntax is declared.

One string per command, FRRouting style, so the declaration reads like the
reference in CLI.md:

    "subnet name=NAME prefix=PREFIX [group group=WORD]"

- a lowercase word is a keyword (abbreviable, help from the glossary);
- an UPPERCASE word is an argument type from `shell.grammar.types`;
- `field=ELEMENT` captures what ELEMENT matched into `field` (the model's
  field name, so bindings and the printer need no mapping tables);
- `[ ... ]` is optional, `{ a | b }` or `( a | b )` a choice, and a `*`
  after a group lets it repeat (filters given in any order).

The parsed form is a tiny AST that `graph` compiles into matching nodes and
that `unparse` walks backwards to print configuration lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shell.grammar.types import ArgType, arg_type


@dataclass(frozen=True)
class Kw:
    """A keyword: matched by any unambiguous prefix."""

    word: str


@dataclass(frozen=True)
class Arg:
    """A typed argument."""

    type: ArgType


@dataclass(frozen=True)
class Seq:
    """Elements one after the other."""

    items: tuple[Element, ...]


@dataclass(frozen=True)
class Alt:
    """Exactly one of the options."""

    options: tuple[Element, ...]


@dataclass(frozen=True)
class Opt:
    """The element, or nothing."""

    item: Element


@dataclass(frozen=True)
class Rep:
    """The element zero or more times."""

    item: Element


@dataclass(frozen=True)
class Cap:
    """Capture the words that `item` matched into `name`."""

    name: str
    item: Element


Element = Kw | Arg | Seq | Alt | Opt | Rep | Cap

_TOKEN = re.compile(r"\s*(?:([\[\]{}()|*])|([a-z_][a-z0-9_]*)=|([^\s\[\]{}()|*=]+))")
_CLOSE = {"[": "]", "{": "}", "(": ")"}


class SyntaxDeclarationError(ValueError):
    """A command declaration is malformed (a programming error, found at import)."""


def parse_syntax(text: str) -> Element:
    """Parse one declaration string into its AST."""
    tokens = _lex(text)
    elem, pos = _parse_alt(tokens, 0, text)
    if pos != len(tokens):
        raise SyntaxDeclarationError(f"unexpected {tokens[pos]!r} in {text!r}")
    return elem


def _lex(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SyntaxDeclarationError(f"cannot read {text[pos:]!r} in {text!r}")
        punct, cap, word = m.groups()
        out.append(("p", punct) if punct else ("c", cap) if cap else ("w", word))
        pos = m.end()
    return out


def _parse_alt(tokens: list[tuple[str, str]], pos: int, text: str) -> tuple[Element, int]:
    options: list[Element] = []
    while True:
        seq, pos = _parse_seq(tokens, pos, text)
        options.append(seq)
        if pos < len(tokens) and tokens[pos] == ("p", "|"):
            pos += 1
            continue
        return (options[0] if len(options) == 1 else Alt(tuple(options))), pos


def _parse_seq(tokens: list[tuple[str, str]], pos: int, text: str) -> tuple[Element, int]:
    items: list[Element] = []
    while pos < len(tokens) and tokens[pos] not in (("p", "|"), ("p", "]"), ("p", "}"), ("p", ")")):
        item, pos = _parse_item(tokens, pos, text)
        items.append(item)
    if not items:
        raise SyntaxDeclarationError(f"empty group in {text!r}")
    return (items[0] if len(items) == 1 else Seq(tuple(items))), pos


def _parse_item(tokens: list[tuple[str, str]], pos: int, text: str) -> tuple[Element, int]:
    kind, value = tokens[pos]
    if kind == "c":
        inner, pos = _parse_item(tokens, pos + 1, text)
        return Cap(value, inner), pos
    if kind == "w":
        elem: Element = Arg(arg_type(value)) if value.isupper() or value[0].isupper() else Kw(value)
        return elem, pos + 1
    if value not in _CLOSE:
        raise SyntaxDeclarationError(f"unexpected {value!r} in {text!r}")
    inner, pos = _parse_alt(tokens, pos + 1, text)
    if pos >= len(tokens) or tokens[pos] != ("p", _CLOSE[value]):
        raise SyntaxDeclarationError(f"unclosed {value!r} in {text!r}")
    pos += 1
    group: Element = Opt(inner) if value == "[" else inner
    if pos < len(tokens) and tokens[pos] == ("p", "*"):
        group = Rep(inner)
        pos += 1
    return group, pos


def captures(elem: Element) -> list[str]:
    """Names of every capture in an element, in declaration order."""
    match elem:
        case Cap(name, item):
            return [name, *captures(item)]
        case Seq(items) | Alt(items):
            return [n for i in items for n in captures(i)]
        case Opt(item) | Rep(item):
            return captures(item)
    return []


def leading_keywords(elem: Element) -> list[str]:
    """The keywords a declaration starts with (its command words)."""
    match elem:
        case Kw(word):
            return [word]
        case Seq(items):
            out: list[str] = []
            for item in items:
                if not isinstance(item, Kw):
                    break
                out.append(item.word)
            return out
    return []
