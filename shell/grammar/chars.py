"""Characters that vpclab input may not hold, and how to name them: the
engine's one definition (engine/text.py), which the grammar's free text,
every line's gate and validation share."""

from __future__ import annotations

from engine.text import bad_char, char_name, text_problem

__all__ = ["bad_char", "char_name", "text_problem"]
