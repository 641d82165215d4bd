"""Run one line: parse in the mode (falling back to parent modes), filter, print.

This is the one place where a line meets the grammar, so the REPL, batch
files, `-c`, `do` and `load` all behave alike. An error restores the
candidate and the mode as they were: an error changes nothing.
"""

from __future__ import annotations

from typing import Any

from engine.errors import VpclabError
from shell.context import Context, SyntaxFaultError
from shell.grammar import matcher
from shell.grammar.chars import text_problem
from shell.grammar.matcher import Choice, Parsed, SyntaxFault
from shell.grammar.registry import Grammar
from shell.output import apply_filter, json_data, render_text, to_json
from shell.state import Result, ShellState

PIPE_MODE = "pipe"
Filter = tuple[str, str | None]


class InputError(VpclabError):
    """A line holds a character no vpclab input may hold."""


class Interpreter:
    """Parses and runs lines for one shell session."""

    def __init__(self, state: ShellState, grammar: Grammar):
        self.state = state
        self.grammar = grammar
        self.edits_only = False  # set by `load`: only configuration lines
        self.results: list[Any] | None = None  # set by a JSON batch: one entry per command

    # parsing ----------------------------------------------------------------------

    def _fallback(self, mode: str) -> list[str]:
        """Modes to try: the mode, then its ancestors short of exec (IOS)."""
        chain = self.grammar.chain(mode)
        return chain if mode == "exec" else [m for m in chain if m != "exec"]

    def parse(self, line: str, mode: str | None = None) -> tuple[str, Parsed] | SyntaxFault:
        """The mode that accepts `line` and its match, or the most telling fault."""
        faults: list[SyntaxFault] = []
        for m in self._fallback(mode or self.state.mode):
            got = matcher.parse(self.grammar.roots[m], line)
            if isinstance(got, Parsed) and (got.command.edits or not self.edits_only):
                return m, got
            if isinstance(got, SyntaxFault):
                faults.append(got)
        if not faults:
            return SyntaxFault("invalid", line, 0, line.split()[0] if line.split() else "", (), 0)
        return max(faults, key=lambda f: f.depth)  # first (innermost) wins ties

    @staticmethod
    def split_pipe(line: str) -> tuple[str, list[tuple[str, int]]]:
        """`show x | include y | count` -> ("show x", [("include y", 9), ("count", 21)]):
        the head and each filter with where it starts in the line."""
        cuts = [i for i in range(len(line) - 2) if line[i:i + 3] == " | "]
        if not cuts:
            return line.strip(), []
        starts = [0, *(c + 3 for c in cuts)]
        ends = [*cuts, len(line)]
        parts = [(line[s:e], s) for s, e in zip(starts, ends)]
        filters = [(text.strip(), s + len(text) - len(text.lstrip())) for text, s in parts[1:]]
        return parts[0][0].strip(), filters

    # running ----------------------------------------------------------------------

    def run(self, line: str) -> bool:
        """Run one line and print its output or error; True when it succeeded."""
        text = line.strip()
        try:
            self._check_chars(line)
            if not text or text[0] in "!#":
                return True
            if text.endswith("?"):
                return self._help(line.rstrip()[:-1])
            result = self._execute(text)
            shown = None if result is None or self.results is not None else self._finish(*result)
        except VpclabError as err:
            self.report(err.lines())
            if self.results is not None:
                self.results.append({"error": "\n".join(err.lines())})
            return False
        if self.results is not None:
            self.results.append(result if result is None else json_data(result[0]))
        elif shown:
            self.state.emit(shown)
        if result is not None and result[0].failure:  # the output stands, and the line fails (exit 1 in a batch)
            self.report([f"% {result[0].failure}"])
            return False
        return True

    def _help(self, line: str) -> bool:
        """`?` at the end of a scripted line: the help, as text or as a JSON entry."""
        lines = self.help_lines(line)
        if self.results is not None:
            self.results.append(lines)
        else:
            self.state.emit("\n".join(lines))
        return True

    @staticmethod
    def _check_chars(line: str) -> None:
        """No control character, line separator or undecodable byte, anywhere
        (comments included): they would reach terminals and saved files."""
        problem = text_problem(line, allow_tab=True)
        if problem:
            raise InputError(problem)

    def _execute(self, text: str) -> tuple[Result, list[Filter]] | None:
        """Run a line; raise VpclabError (having restored state) on failure."""
        got = self.parse(text)
        head, pipes = text, list[tuple[str, int]]()
        if isinstance(got, SyntaxFault) or not got[1].command.edits:
            head, pipes = self.split_pipe(text)
            if pipes:
                got = self.parse(head)
        if isinstance(got, SyntaxFault):
            raise SyntaxFaultError(got.within(text, 0))
        mode, parsed = got
        filters = [self._pipe(p, at, text) for p, at in pipes]
        plain = not filters and not self.state.json and self.results is None
        ctx = Context(self.state, self.grammar, self.parse, text, head, self.state.live if plain else None)
        result = self.call(mode, parsed, ctx)
        return None if result is None else (result, filters)

    def call(self, mode: str, parsed: Parsed, ctx: Context) -> Result | None:
        """Run a parsed command in `mode`, restoring everything if it fails.

        A configuration line accepted by a parent mode moves the session
        there (IOS: `segment dev` in a vpc's mode edits the segment); any
        other command (`commit`, `show`) leaves the mode as it was."""
        st = self.state
        saved = (st.api.candidate, st.mode, st.kind, st.name)
        if mode != st.mode and parsed.command.edits:
            st.enter(mode)
        try:
            return ctx.run(parsed)
        except VpclabError:
            if st.api.candidate is not saved[0]:
                st.api.set_candidate(saved[0])
            st.mode, st.kind, st.name = saved[1:]
            raise

    def _pipe(self, text: str, at: int, line: str) -> Filter:
        got = matcher.parse(self.grammar.roots[PIPE_MODE], text)
        if isinstance(got, SyntaxFault):
            raise SyntaxFaultError(got.within(line, at))
        return got.command.syntax.split()[0], got.values.get("pattern")

    def _finish(self, result: Result, filters: list[Filter]) -> str:
        if self.state.json or any(f[0] == "json" for f in filters):
            text = to_json(result)
        else:
            text = render_text(result, self.state.width, color=self.state.interactive)
        for how, pattern in filters:
            if how != "json":
                text = apply_filter(text, how, pattern)
        return text

    def report(self, lines: list[str]) -> None:
        """Print error lines; in a batch the first says FILE:LINE."""
        if self.state.where:
            first = next((i for i, ln in enumerate(lines) if ln.startswith("%")), 0)
            lines = [f"{self.state.where}: {lines[first]}", *lines[:first], *lines[first + 1:]]
        (self.state.emit_error or self.state.emit)("\n".join(lines))

    # help and completion ------------------------------------------------------------

    def _contexts(self, line: str) -> list[tuple[list[Any], str]]:
        """Graph roots to try, in order, and the text to match, for a line being typed."""
        bar = line.rfind(" |")
        if bar >= 0 and (bar + 2 == len(line) or line[bar + 2] == " "):
            return [(self.grammar.roots[PIPE_MODE], line[bar + 2:].lstrip())]
        words = line.split()
        if self.state.mode != "exec" and words and words[0] == "do" and (len(words) > 1 or line.endswith(" ")):
            return [(self.grammar.roots["exec"], line.lstrip()[2:].lstrip())]
        modes = self._fallback(self.state.mode) if line.strip() else [self.state.mode]
        return [(self.grammar.roots[m], line) for m in modes]

    def choices(self, line: str) -> list[Choice] | SyntaxFault:
        """What may come next (for `?`): from the first mode that knows the line."""
        first: list[Choice] | SyntaxFault | None = None
        for roots, text in self._contexts(line):
            got = matcher.choices(roots, text, self.state)
            if isinstance(got, list) and got:
                return got
            first = got if first is None else first
        return first if first is not None else []

    def help_lines(self, line: str) -> list[str]:
        """The `?` answer as lines, IOS style."""
        got = self.choices(line)
        if isinstance(got, SyntaxFault):
            return got.lines()
        if not got:
            return ["% Unrecognized command"]
        width = max(len(c.text) for c in got) + 2
        return [f"  {c.text:<{width}}{c.help}".rstrip() for c in got]

    def completions(self, line: str) -> tuple[str, list[Choice]]:
        """The partial word and what TAB may turn it into (first mode with an answer)."""
        partial = ""
        for roots, text in self._contexts(line):
            partial, got = matcher.completions(roots, text, self.state)
            if got:
                return partial, got
        return partial, []
