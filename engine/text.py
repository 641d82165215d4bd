"""Characters that vpclab text may not hold, and how to name them.

Free text (descriptions, comments, commit comments) is printed back to
terminals and written into saved configurations. A newline or CR in it
would inject configuration lines through `save`/`apply`; ESC, BEL and the
C1 controls (CSI is 0x9b) drive the terminal. So every control character
(Unicode category Cc: below 0x20, 0x7f and 0x80-0x9f), the line and
paragraph separators (which `str.splitlines` breaks lines at) and lone
surrogates (how Python carries bytes that were not UTF-8 in argv) are
refused wherever text enters: the shell's lines (shell/grammar/chars.py),
validation of a whole configuration however it arrived
(engine/validate/names.py) and the state files (engine/store.py). Where
such text must be shown anyway (a message naming a bad object), it is
shown escaped (`printable`).
"""

from __future__ import annotations

import re
import unicodedata

_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x09: "TAB", 0x0A: "newline (LF)", 0x0B: "VT", 0x0C: "FF",
          0x0D: "carriage return (CR)", 0x1B: "ESC", 0x7F: "DEL", 0x85: "NEL", 0x2028: "LINE SEPARATOR",
          0x2029: "PARAGRAPH SEPARATOR"}
_REFUSED_CATEGORIES = ("Cc", "Zl", "Zp", "Cs")
# the same set as one character class (Cc, Zl, Zp and Cs are exactly these
# code points), for scanning many strings at C speed
REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def char_name(ch: str) -> str:
    """`ESC (U+001B)`: a name people recognise, and the code point."""
    code = ord(ch)
    name = _NAMES.get(code) or ("control character" if unicodedata.category(ch) == "Cc" else unicodedata.name(ch, "character"))
    return f"{name} (U+{code:04X})"


def bad_char(text: str, allow_tab: bool = False) -> tuple[int, str] | None:
    """(index, description) of the first refused character in `text`, or None."""
    for i, ch in enumerate(text):
        if ch.isascii() and " " <= ch < "\x7f":  # the common case, decided at once
            continue
        if ch == "\t" and allow_tab:
            continue
        category = unicodedata.category(ch)
        if category == "Cs":
            byte = ord(ch) - 0xDC00
            what = f"a byte that is not UTF-8 (0x{byte:02x})" if 0x80 <= byte <= 0xFF else f"a lone surrogate (U+{ord(ch):04X})"
            return i, what
        if category in _REFUSED_CATEGORIES:
            return i, char_name(ch)
    return None


def text_problem(text: str, allow_tab: bool = False) -> str | None:
    """Why `text` is refused (naming the character and its column), or None."""
    found = bad_char(text, allow_tab)
    if found is None:
        return None
    index, what = found
    return f"{what} at column {index + 1} is not allowed"


def printable(text: str) -> str:
    """`text` with every refused character written as an escape (`\\x1b`,
    `\\u2028`), so that a message naming bad input cannot drive a terminal."""
    if REFUSED.search(text) is None:
        return text
    return REFUSED.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", text)
