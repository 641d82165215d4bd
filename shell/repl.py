"""The interactive shell on prompt-toolkit: prompts per mode, history, paging.

Ctrl-C drops the line being typed, or ends the running command (and what it
started); Ctrl-D leaves, asking first in a configuration mode with
uncommitted changes, as `end` and `exit` do. Commits made elsewhere (another
session, a confirmed commit rolled back) are announced above the prompt.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.application import Application, get_app, run_in_terminal
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import Layout
from prompt_toolkit.layout.containers import Window
from prompt_toolkit.layout.controls import FormattedTextControl

from shell.commands.session import leave_config
from shell.commit_news import CommitNews
from shell.completer import GrammarCompleter, help_key_bindings
from shell.language import interpreter
from shell.state import ShellState

NEWS_SECONDS = 0.5  # how often a waiting prompt looks for commits made elsewhere


def history_file(lab: str) -> History:
    """Per-lab history in ~/.vpclab/history-LAB (in memory if home is not writable)."""
    path = Path(os.path.expanduser("~")) / ".vpclab" / f"history-{lab}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))


def _stdout_live(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


class Repl:
    """One interactive session; `input`/`output` are injectable for tests."""

    def __init__(self, state: ShellState, input: Any = None, output: Any = None,
                 history: History | None = None, emit: Callable[[str], None] | None = None):
        self.state = state
        self.interp = interpreter(state)
        self._write = emit or print
        self._io = {"input": input, "output": output}
        state.interactive = True
        state.emit = self.page
        state.ask = self.ask
        state.live = emit or _stdout_live
        self.news = CommitNews(state.api)
        self.session: PromptSession[str] = PromptSession(
            completer=GrammarCompleter(self.interp), complete_while_typing=False,
            key_bindings=help_key_bindings(self.interp, self.prompt, self._write),
            history=history if history is not None else history_file(state.lab), **self._io)

    def prompt(self) -> str:
        """The prompt of the current mode: `LAB#`, `LAB(config-vpc)#`."""
        return f"{self.state.lab}{self.interp.grammar.modes[self.state.mode].prompt} "

    def ask(self, question: str) -> str:
        """A question in the middle of a command (uncommitted changes)."""
        try:
            return PromptSession[str](**self._io).prompt(question)
        except (KeyboardInterrupt, EOFError):
            return ""

    def run(self) -> int:
        """Read and run lines until `exit`/`quit` or Ctrl-D; Ctrl-C drops the line."""
        while not self.state.done:
            self._tell(self.news.poll())
            try:
                line = self.session.prompt(self.prompt, pre_run=self._watch_news)
            except KeyboardInterrupt:
                continue
            except EOFError:
                if self._may_leave():
                    break
                continue
            try:
                self.interp.run(line)
            except KeyboardInterrupt:
                self._write("% Interrupted.")
            except Exception as err:  # a bug must not end the session
                self._write(f"% internal error: {type(err).__name__}: {err}")
            self.news.mark_seen()
        return 0

    def _may_leave(self) -> bool:
        """Ctrl-D: leave, but in a configuration mode ask about uncommitted changes first."""
        if self.state.mode == "exec":
            return True
        try:
            return leave_config(self.state)
        except Exception as err:  # a failing commit on the way out: stay, say why
            self._write(f"% {err}")
            return False

    # news of commits made elsewhere ------------------------------------------------

    def _tell(self, lines: list[str]) -> None:
        if lines:
            self._write("\n".join(lines))

    def _watch_news(self) -> None:
        """While the prompt waits, look for commits made elsewhere and print
        them above it (the line being typed stays as it is)."""

        async def watch() -> None:
            while True:
                await asyncio.sleep(NEWS_SECONDS)
                lines = self.news.poll()
                if lines:
                    await run_in_terminal(lambda: self._tell(lines))

        get_app().create_background_task(watch())

    # paging -------------------------------------------------------------------------

    def page(self, text: str) -> None:
        """Print, stopping every `terminal length` lines at --More--."""
        lines = text.split("\n")
        size = self.state.term_length
        if size <= 0 or len(lines) <= size:
            self._write(text)
            return
        shown = 0
        step = size - 1
        while shown < len(lines):
            self._write("\n".join(lines[shown:shown + step]))
            shown += step
            if shown >= len(lines):
                break
            key = self._more()
            if key in ("q", "Q", "\x03"):
                break
            step = 1 if key in ("\r", "\n") else size - 1

    def _more(self) -> str:
        kb = KeyBindings()

        @kb.add("<any>")
        def _(event: KeyPressEvent) -> None:
            event.app.exit(result=event.data)

        app: Application[str] = Application(layout=Layout(Window(FormattedTextControl(" --More-- "), height=1)),
                                            key_bindings=kb, **self._io)
        return app.run() or "q"
