"""The interactive shell on prompt-toolkit: prompts per mode, history, paging."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.application import Application
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import Layout
from prompt_toolkit.layout.containers import Window
from prompt_toolkit.layout.controls import FormattedTextControl

from shell.completer import GrammarCompleter, help_key_bindings
from shell.interpreter import Interpreter
from shell.state import ShellState


def history_file(lab: str) -> History:
    """Per-lab history in ~/.vpclab/history-LAB (in memory if home is not writable)."""
    path = Path(os.path.expanduser("~")) / ".vpclab" / f"history-{lab}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError:
        return InMemoryHistory()
    return FileHistory(str(path))


class Repl:
    """One interactive session; `input`/`output` are injectable for tests."""

    def __init__(self, state: ShellState, input: Any = None, output: Any = None,
                 history: History | None = None, emit: Callable[[str], None] | None = None):
        self.state = state
        self.interp = Interpreter(state)
        self._write = emit or print
        self._io = {"input": input, "output": output}
        state.interactive = True
        state.emit = self.page
        state.ask = self.ask
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
            try:
                line = self.session.prompt(self.prompt)
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
            try:
                self.interp.run(line)
            except KeyboardInterrupt:
                self._write("% Interrupted.")
            except Exception as err:  # a bug must not end the session
                self._write(f"% internal error: {type(err).__name__}: {err}")
        return 0

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
