"""Reading scripts and configuration files: bounded, UTF-8, one line at a time.

Every way text enters vpclab from a file (`-f FILE`, `-f -`, piped stdin,
`apply FILE`, `load FILE`) goes through `numbered_lines`, so each refuses
the same inputs the same way, with `FILE:LINE: %`: bytes that are not
UTF-8, a line longer than MAX_LINE_BYTES (`-f /dev/zero` stops at once
instead of reading until memory runs out) and more than MAX_INPUT_BYTES in
all. Lines end at LF only (a CRLF ending is accepted): a stray CR, VT or
U+2028 inside a line stays inside it, where the interpreter refuses it,
instead of silently splitting one line into two as `str.splitlines` would.
Lines are yielded as they are read, so a script piped into the shell runs
while it arrives.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import BinaryIO

from engine.errors import VpclabError

MAX_LINE_BYTES = 8192
MAX_INPUT_BYTES = 64 * 1024 * 1024


class InputError(VpclabError):
    """A line of a file cannot be vpclab input; names the file and line."""

    def __init__(self, where: str, message: str):
        self.where = where
        super().__init__(message)

    def lines(self) -> list[str]:
        return [f"{self.where}: % {self}"]


class UnreadableFile(VpclabError):
    """A file named on the command line or in `load` cannot be opened."""


def open_input(path: str) -> BinaryIO:
    """The file (or stdin for '-') as bytes; UnreadableFile says why not."""
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as err:
        raise UnreadableFile(f"cannot read {path}: {err.strerror or err}") from None


def numbered_lines(stream: BinaryIO, label: str) -> Iterator[tuple[str, str]]:
    """(`FILE:LINE`, text) for each line; InputError at the first bad one."""
    total = 0
    number = 0
    while True:
        try:
            raw = stream.readline(MAX_LINE_BYTES + 1)
        except OSError as err:
            raise InputError(f"{label}:{number + 1}", f"cannot read: {err.strerror or err}") from None
        if not raw:
            return
        number += 1
        where = f"{label}:{number}"
        total += len(raw)
        if total > MAX_INPUT_BYTES:
            raise InputError(where, f"the input is longer than {MAX_INPUT_BYTES // 2**20} MiB, more than a script or "
                                    "configuration holds; is it the right file?")
        body = raw[:-1] if raw.endswith(b"\n") else raw
        if len(body) > MAX_LINE_BYTES:
            raise InputError(where, f"the line is longer than {MAX_LINE_BYTES} bytes; is it the right file?")
        yield where, _decode(body.removesuffix(b"\r"), where)


def _decode(body: bytes, where: str) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as err:
        column = len(body[:err.start].decode("utf-8", errors="replace")) + 1
        raise InputError(where, f"not UTF-8: byte 0x{body[err.start]:02x} at column {column}; "
                                "vpclab reads UTF-8 text (convert with iconv)") from None


def text_lines(text: str, label: str) -> list[tuple[str, str]]:
    """(`LABEL:LINE`, text) for each line of text already in memory, split as
    files are (LF only; a CRLF ending accepted)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [(f"{label}:{n}", line.removesuffix("\r")) for n, line in enumerate(lines, 1)]


def read_lines(path: str, label: str | None = None) -> list[tuple[str, str]]:
    """Every numbered line of a file ('-': stdin), read at once."""
    stream = open_input(path)
    try:
        return list(numbered_lines(stream, label or path))
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
