"""The top line of every screen: lab, commit, what is shown, polling state."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class StatusBar(Static):
    """One line of facts about the screen; PAUSED and errors stand out."""

    def show(self, parts: list[str], paused: bool = False, error: str | None = None) -> None:
        """Replace the line: the parts joined, then the pause or error marks."""
        line = Text(" · ".join(p for p in parts if p), no_wrap=True, overflow="ellipsis")
        if paused:
            line.append("  PAUSED (p resumes)", style="bold reverse yellow")
        if error:
            line.append(f"  {error}", style="bold red")
        self.update(line)
