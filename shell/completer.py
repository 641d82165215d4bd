"""prompt-toolkit glue: TAB completion and the `?` key, both from the grammar."""

from __future__ import annotations

from typing import Callable, Iterable

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
    """`?` answers at once, above the prompt, and leaves the line as it was (IOS)."""
    kb = KeyBindings()

    @kb.add("?")
    def _(event: KeyPressEvent) -> None:
        text = event.app.current_buffer.document.text_before_cursor
        lines = interp.help_lines(text)
        run_in_terminal(lambda: emit("\n".join([f"{prompt()}{text}?", *lines])))

    return kb
