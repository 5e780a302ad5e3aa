"""Reading source files into lines: UTF-8, any line ending, bad bytes reported per line."""
from __future__ import annotations

from .errors import Diagnostic

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
