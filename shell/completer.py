"""prompt-toolkit glue: TAB completion and the `?` key, both from the grammar."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prompt_toolkit.application import run_in_terminal
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from shell.interpreter import Interpreter


class GrammarCompleter(Completer):
    """Completes keywords and existing object names at the cursor."""

    def __init__(self, interp: Interpreter):
        self.interp = interp

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        partial, choices = self.interp.completions(document.text_before_cursor)
        for choice in choices:
            yield Completion(choice.text + " ", start_position=-len(partial), display=choice.text,
                             display_meta=choice.help)


def help_key_bindings(interp: Interpreter, prompt: Callable[[], str], emit: Callable[[str], None]) -> KeyBindings:
    """`?` answers at once, above the prompt, and leaves the line as it was (IOS).

    TAB completes at once too: a unique word is finished (with a blank), a
    common prefix is extended, and only a real choice opens the menu. Doing
    it in the key handler, not in prompt-toolkit's asynchronous completion,
    keeps typed-ahead keys (and pasted lines) in order.
    """
    kb = KeyBindings()

    @kb.add("tab")
    def _tab(event: KeyPressEvent) -> None:
        buf = event.app.current_buffer
        partial, choices = interp.completions(buf.document.text_before_cursor)
        if not choices:
            return
        common = os.path.commonprefix([c.text for c in choices])
        if len(choices) == 1:
            buf.insert_text(common[len(partial):] + " ")
        elif len(common) > len(partial):
            buf.insert_text(common[len(partial):])
        else:
            buf.start_completion(select_first=False)

    @kb.add("?")
    def _(event: KeyPressEvent) -> None:
        text = event.app.current_buffer.document.text_before_cursor
        lines = interp.help_lines(text)
        run_in_terminal(lambda: emit("\n".join([f"{prompt()}{text}?", *lines])))

    return kb
