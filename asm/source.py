"""Reading source files into lines: UTF-8, any line ending, bad bytes reported per line."""
from __future__ import annotations

import os
import stat

from .errors import Diagnostic

MAX_SOURCE = 16 << 20         # bytes in one source file


class SourceReadError(OSError):
    """A source that must not be read: not a regular file, or too large."""


def read_source(path: str | os.PathLike, limit: int = MAX_SOURCE) -> bytes:
    """The bytes of a source file, refusing what would hang or exhaust the host: a FIFO or
    device (`/dev/zero`, a pipe that never ends) and files above `limit` bytes."""
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "is a directory", str(path))
    if not stat.S_ISREG(st.st_mode):
        raise SourceReadError(0, "not a regular file (a pipe or a device cannot be source)")
    if st.st_size > limit:
        raise SourceReadError(0, f"too large ({st.st_size:,} bytes; the limit is "
                                 f"{limit >> 20} MiB)")
    with open(path, "rb") as f:
        # read(n) allocates n bytes first: ask for the size the file has, not the limit.
        raw = f.read(st.st_size + 1)
        if len(raw) > st.st_size:                # it grew meanwhile
            raw += f.read(limit + 1 - len(raw))
    if len(raw) > limit:
        raise SourceReadError(0, f"too large (more than {limit >> 20} MiB)")
    return raw

BOM = "\ufeff"


def split_lines(raw: bytes, filename: str) -> tuple[list[str], list[Diagnostic]]:
    """The lines of `raw` (without line ends) and a diagnostic for each line that is not
    valid UTF-8 or holds a NUL byte. Bad lines become empty so line numbers stay right."""
    problems: list[Diagnostic] = []
    try:
        lines = raw.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        lines = []
        for number, chunk in enumerate(raw.split(b"\n"), 1):
            try:
                lines.append(chunk.decode("utf-8"))
            except UnicodeDecodeError as e:
                good = chunk[:e.start].decode("utf-8", "replace")
                shown = chunk.decode("utf-8", "replace").rstrip("\r")
                problems.append(Diagnostic(filename, number, len(good) + 1,
                                           f"invalid UTF-8 (byte 0x{chunk[e.start]:02x})", shown))
                lines.append("")
    if lines and lines[0].startswith(BOM):
        lines[0] = lines[0][1:]
    if lines and lines[-1] == "":
        lines.pop()     # the newline that ends the last line does not start another
    for number, line in enumerate(lines, 1):
        if line.endswith("\r"):
            lines[number - 1] = line = line[:-1]
        if "\0" in line:
            problems.append(Diagnostic(filename, number, line.index("\0") + 1,
                                       "NUL byte in source", line.replace("\0", " ")))
            lines[number - 1] = ""
    return lines, problems


def iter_lines(raw: bytes, filename: str):
    """As `split_lines`, but (lines, problems, empty) with the lines made one at a time when
    the source is clean (valid UTF-8, no NUL): a large source is not held twice as a list."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\0" in text:
        lines, problems = split_lines(raw, filename)
        return lines, problems, not lines
    if text.startswith(BOM):
        text = text[1:]
    return _lines_of(text), [], not text


def _lines_of(text: str):
    start, n = 0, len(text)
    while start < n:
        end = text.find("\n", start)
        if end < 0:
            end = n
        line = text[start:end]
        yield line[:-1] if line.endswith("\r") else line
        start = end + 1
