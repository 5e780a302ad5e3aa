"""Assembler diagnostics: where a problem is, what it is, and what was probably meant.

A diagnostic prints the way compilers print theirs:

    prog.s:12:5: error: unknown mnemonic 'ad'; did you mean 'add'?
        ad r1, r2, r3
        ^
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable

# Lines longer than this are shown as a window around the column, not whole.
_SHOWN_WIDTH = 120
MAX_ERRORS = 50


@dataclass(frozen=True, slots=True)
class Location:
    file: str
    line: int          # 1-based; 0 when the problem is about the whole file
    col: int = 1       # 1-based, in characters
    text: str = ""     # the source line, for the caret display


@dataclass
class Diagnostic:
    file: str
    line: int
    col: int
    message: str
    text: str = ""
    severity: str = "error"
    notes: list["Diagnostic"] = field(default_factory=list)

    @classmethod
    def at(cls, loc: Location, message: str, col: int | None = None) -> "Diagnostic":
        return cls(loc.file, loc.line, loc.col if col is None else col, message, loc.text)

    def format(self) -> str:
        from vcpu.text import visible
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        out = [visible(f"{where}: {self.severity}: {self.message}")]
        if self.line and self.text:
            out += _caret_lines(self.text, self.col)
        for note in self.notes:
            out.append(note.format())
        return "\n".join(out)


class AsmError(Exception):
    """One or more assembler diagnostics. `str(e)` is all of them, formatted."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__(self.format())

    def format(self) -> str:
        lines = [d.format() for d in self.diagnostics]
        errors = sum(d.severity == "error" for d in self.diagnostics)
        if errors > 1:
            lines.append(f"{errors} errors")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


class LineError(Exception):
    """Raised inside the assembler for one bad statement; becomes a Diagnostic at its line."""

    def __init__(self, message: str, col: int | None = None):
        super().__init__(message)
        self.message = message
        self.col = col


def _caret_lines(text: str, col: int) -> list[str]:
    text = text.rstrip("\r\n")
    start = 0
    if len(text) > _SHOWN_WIDTH:
        # Show a window around the column so that a 1 MB line prints as one screen line.
        start = max(0, col - 1 - _SHOWN_WIDTH // 2)
        shown = text[start:start + _SHOWN_WIDTH]
        prefix = "..." if start else ""
        suffix = "..." if start + _SHOWN_WIDTH < len(text) else ""
        text = prefix + shown + suffix
        col = col - start + len(prefix)
    # Control characters in the line (an ESC sequence in a comment) are shown, not sent to
    # the terminal: ^[ takes two columns, so the caret follows the shown text.
    from vcpu.text import visible
    before = visible(text[:max(col - 1, 0)], keep="\t")
    # Keep tabs in the caret line so the caret stays under the column in any tab width.
    pad = "".join("\t" if ch == "\t" else " " for ch in before)
    return ["    " + visible(text, keep="\t"), "    " + pad + "^"]


def short(name: str, limit: int = 40) -> str:
    """A name as a message shows it: long ones cut, so one bad line prints as one line."""
    return name if len(name) <= limit else name[:limit - 3] + "..."


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """'; did you mean 'x'?' for the nearest candidate, or ''. Ties go to a candidate that
    starts with `word` ('ad' -> 'add', not 'and'), then to the earlier candidate."""
    if len(word) > 64:
        return ""
    best = None
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(word.lower())
    for order, cand in enumerate(candidates):
        matcher.set_seq1(cand.lower())
        if (matcher.real_quick_ratio() < 0.6 or matcher.quick_ratio() < 0.6):
            continue
        score = matcher.ratio()
        if cand == word or score < 0.6:
            continue
        key = (-score, cand != word and cand.lower() != word.lower(),
               not cand.lower().startswith(word.lower()), order)
        if best is None or key < best[0]:
            best = (key, cand)
    return f"; did you mean '{best[1]}'?" if best else ""
