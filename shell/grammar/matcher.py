"""Match a typed line against a mode's graph: parse, `?` help and TAB.

Keywords match any prefix; an exact keyword beats prefixes, a keyword beats
an argument, and two different keywords matching one prefix are ambiguous,
as in IOS. Every outcome is data (`Parsed` or `SyntaxFault`), so the
interpreter decides how to show it and nothing here prints or raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from shell.grammar.graph import Node
from shell.grammar.registry import Command
from shell.grammar.syntax import Arg, Kw
from shell.grammar.types import Scope

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Token:
    """A word of the typed line and where it starts (for the caret)."""

    text: str
    start: int


def tokenize(line: str) -> list[Token]:
    """Blank-separated words with their offsets."""
    return [Token(m.group(), m.start()) for m in _WORD.finditer(line)]


@dataclass(frozen=True)
class Parsed:
    """A complete match: the command and its arguments, converted by their types."""

    command: Command
    values: dict[str, Any]


@dataclass(frozen=True)
class SyntaxFault:
    """Why a line does not parse. `kind`: invalid | incomplete | ambiguous.

    `depth` counts the words that did match, so that of the faults from
    several modes (IOS fall-back) the most telling one is reported.
    """

    kind: str
    line: str
    position: int = 0
    word: str = ""
    candidates: tuple[str, ...] = ()
    depth: int = 0
    reasons: tuple[str, ...] = ()  # why the word is not a value the position takes

    def lines(self) -> list[str]:
        """The error as the shell prints it."""
        if self.kind == "incomplete":
            return ["% Incomplete command."]
        if self.kind == "ambiguous":
            return [f'% Ambiguous command: "{self.word}"', f"% Candidates: {', '.join(self.candidates)}"]
        return [f"  {self.line}", "  " + " " * self.position + "^", "% Invalid input detected at '^' marker.",
                *(f"% {r}" for r in self.reasons)]

    def within(self, line: str, offset: int) -> SyntaxFault:
        """This fault of a part of `line` (after `do`, or a `|` filter) placed in
        the whole line, so the caret points into the line as typed."""
        return replace(self, line=line, position=self.position + offset)


@dataclass
class _Path:
    node: Node
    values: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Choice:
    """One thing that may come next, for `?` and TAB."""

    text: str  # keyword, placeholder, or a completed name
    help: str
    is_keyword: bool = False


def _advance(paths: list[_Path], line: str, tokens: list[Token]) -> tuple[list[_Path], SyntaxFault | None]:
    """Consume every token; the frontier after them, or the first fault."""
    for i, tok in enumerate(tokens):
        chosen, fault = _choose(paths, line, tok, i)
        if fault:
            return [], fault
        new: list[_Path] = []
        for p in chosen:
            values = dict(p.values)
            assert p.node.token is not None
            if isinstance(p.node.token, Arg) and p.node.token.type.rest:
                word = _rest(line, tok)
                for cap in p.node.captures:
                    values[cap] = [*values.get(cap, []), word]
                new.extend(_Path(n, values) for n in p.node.next)
                return [q for q in new if q.node.token is None], None
            word = p.node.token.word if isinstance(p.node.token, Kw) else tok.text
            for cap in p.node.captures:
                values[cap] = [*values.get(cap, []), word]
            new.extend(_Path(n, values) for n in p.node.next)
        paths = new
    return paths, None


def _choose(paths: list[_Path], line: str, tok: Token, index: int) -> tuple[list[_Path], SyntaxFault | None]:
    text = tok.text
    keywords = [p for p in paths if isinstance(p.node.token, Kw) and p.node.token.word.startswith(text)]
    exact = [p for p in keywords if p.node.token.word == text]  # type: ignore[union-attr]
    if exact:
        return exact, None
    words = sorted({p.node.token.word for p in keywords})  # type: ignore[union-attr]
    if len(words) > 1:
        return [], SyntaxFault("ambiguous", line, tok.start, text, tuple(words), index)
    if keywords:
        return keywords, None
    args = [p for p in paths if isinstance(p.node.token, Arg)]
    fitting = [p for p in args if p.node.token.type.accepts(_rest(line, tok) if p.node.token.type.rest else text)]  # type: ignore[union-attr]
    if fitting:
        return fitting, None
    return [], SyntaxFault("invalid", line, tok.start, text, (), index, _reasons(args, line, tok) or _not_a_choice(paths, text))


def _rest(line: str, tok: Token) -> str:
    """What a rest-of-line argument starting at `tok` holds."""
    return line[tok.start:].rstrip(" \t")


def _reasons(args: list[_Path], line: str, tok: Token) -> tuple[str, ...]:
    """Why each argument the position takes refused the word: the type's own
    sentence (`1.2.3.999 is not an IPv4 address: 999 is above 255`), a
    number's with what the number is (`Port number <1-65535>: 99999 is out of range`)."""
    out: dict[str, None] = {}
    for p in args:
        assert isinstance(p.node.token, Arg)
        kind = p.node.token.type
        why = kind.check(_rest(line, tok) if kind.rest else tok.text)
        if why:
            out[f"{p.node.help or kind.help} {kind.placeholder}: {why}" if kind.convert is int else why] = None
    return tuple(out)


def _not_a_choice(paths: list[_Path], text: str) -> tuple[str, ...]:
    """The reason when the position takes one word of a set (`protocol=
    {tcp|udp|icmp}`) and `text` is none of them: what is allowed. Only
    when every path here is such a word for one value; a position that also
    takes further keywords says nothing (the caret is the answer there, as
    in IOS)."""
    here = [p for p in paths if p.node.token is not None]
    names = {p.node.captures for p in here}
    if not here or len(names) != 1 or not all(isinstance(p.node.token, Kw) and p.node.captures for p in here):
        return ()
    words = list(dict.fromkeys(p.node.token.word for p in here))  # type: ignore[union-attr]
    allowed = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
    return (f"{text} is not a {names.pop()[0].replace('_', ' ')} here: {allowed}",)


def _finished(paths: Iterable[_Path]) -> Parsed | None:
    for p in paths:
        if p.node.token is None:
            return Parsed(p.node.command, p.node.command.arguments(p.values))
    for p in paths:
        need = p.node.command.accept_partial
        if need is not None and all(n in p.values for n in need):
            return Parsed(p.node.command, p.node.command.arguments(p.values))
    return None


def parse(roots: list[Node], line: str) -> Parsed | SyntaxFault:
    """Match a whole line."""
    tokens = tokenize(line)
    paths, fault = _advance([_Path(n) for n in roots], line, tokens)
    if fault:
        return fault
    done = _finished(paths)
    if done:
        return done
    return SyntaxFault("incomplete", line, len(line), "", (), len(tokens))


def _split_partial(line: str) -> tuple[list[Token], str]:
    tokens = tokenize(line)
    if line and not line[-1].isspace() and tokens:
        return tokens[:-1], tokens[-1].text
    return tokens, ""


def choices(roots: list[Node], line: str, scope: Scope) -> list[Choice] | SyntaxFault:
    """What may follow `line` (the text before the cursor), for `?`.

    After a blank: every keyword and argument, and `<cr>` when the line is
    already complete. Inside a word: the keywords and names it may become.
    """
    done, partial = _split_partial(line)
    paths, fault = _advance([_Path(n) for n in roots], line, done)
    if fault:
        return fault
    out: dict[str, Choice] = {}
    for p in paths:
        tok = p.node.token
        if isinstance(tok, Kw) and tok.word.startswith(partial):
            out.setdefault(tok.word, Choice(tok.word, p.node.help, True))
        elif isinstance(tok, Arg) and not partial:
            out.setdefault(f"{tok.type.placeholder}\0{p.node.help}", Choice(tok.type.placeholder, p.node.help))
        if isinstance(tok, Arg) and tok.type.complete and not tok.type.rest:  # existing names, as TAB offers them
            for name in tok.type.complete(scope):
                if name.startswith(partial):
                    out.setdefault(name, Choice(name, p.node.help))
    if not partial and _finished(paths):
        out["<cr>"] = Choice("<cr>", "")
    return sorted(out.values(), key=lambda c: (c.text == "<cr>", not c.is_keyword, c.text))


def completions(roots: list[Node], line: str, scope: Scope) -> tuple[str, list[Choice]]:
    """The partial word at the cursor and what TAB may turn it into."""
    done, partial = _split_partial(line)
    paths, fault = _advance([_Path(n) for n in roots], line, done)
    if fault:
        return partial, []
    out: dict[str, Choice] = {}
    for p in paths:
        tok = p.node.token
        if isinstance(tok, Kw) and tok.word.startswith(partial):
            out.setdefault(tok.word, Choice(tok.word, p.node.help, True))
        elif isinstance(tok, Arg) and tok.type.complete:
            for name in tok.type.complete(scope):
                if name.startswith(partial):
                    out.setdefault(name, Choice(name, p.node.help))
    return partial, sorted(out.values(), key=lambda c: c.text)
