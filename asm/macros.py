"""Macros: text substitution before parsing.

    .macro NAME [param [, param]...]
        ...body, where \\param stands for the argument and \\@ for a number unique to each
        expansion (for local labels: `loop\\@:`)...
    .endm

A macro is used like an instruction, `NAME arg, arg`. Arguments are split at top-level
commas (not inside brackets, parentheses or quotes) and substituted as text, so an argument
may be a register, an expression or a memory operand. Macro names are case-insensitive like
mnemonics and may not shadow one; parameter names are case-sensitive. A macro that expands
itself, directly or through others, is an error.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import LineError

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A line that starts a definition, ends one, or may invoke a macro (labels first).
MACRO_START = re.compile(r"\s*(?:[A-Za-z_]\w*\s*:\s*)*\.macro\b", re.IGNORECASE)
MACRO_END = re.compile(r"\s*(?:[A-Za-z_]\w*\s*:\s*)*\.endm\b", re.IGNORECASE)
HEAD = re.compile(r"\s*((?:[A-Za-z_]\w*\s*:\s*)*)([A-Za-z_]\w*)")
_PARAM_REF = re.compile(r"\\(@|[A-Za-z_][A-Za-z0-9_]*)")

MAX_DEPTH = 64


@dataclass
class Macro:
    name: str
    params: list[str]
    file: str
    line: int
    body: list[tuple[str, str, int]] = field(default_factory=list)    # (text, file, line)
    header: str = ""       # the .macro line, for messages


def parse_header(text: str) -> tuple[str, list[str], int]:
    """`.macro NAME a, b` -> (NAME, [a, b], column of NAME)."""
    m = MACRO_START.match(text)
    rest_at = m.end()
    rest = strip_comment(text[rest_at:])
    words = [(w.group(), rest_at + w.start() + 1) for w in re.finditer(r"[^\s,]+", rest)]
    if not words:
        raise LineError(".macro needs a name", len(text.rstrip()) + 1)
    name, col = words[0]
    if not NAME.fullmatch(name):
        raise LineError(f"invalid macro name '{name}'", col)
    params = []
    for word, pcol in words[1:]:
        word = word.lstrip("\\")
        if not NAME.fullmatch(word):
            raise LineError(f"invalid macro parameter '{word}'", pcol)
        if word in params:
            raise LineError(f"duplicate macro parameter '{word}'", pcol)
        params.append(word)
    return name, params, col


def strip_comment(text: str) -> str:
    """`text` up to a `;` that is outside quotes."""
    if ";" not in text:
        return text
    quote = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == ";":
            return text[:i]
        i += 1
    return text


def split_arguments(text: str, start_col: int) -> list[tuple[str, int]]:
    """Arguments of an invocation: (text, column), split at top-level commas."""
    text = strip_comment(text)
    if not text.strip():
        return []
    args, depth, quote, begin = [], 0, None, 0
    i = 0
    while i <= len(text):
        ch = text[i] if i < len(text) else ","
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and (depth <= 0 or i == len(text)):
            piece = text[begin:i]
            lead = len(piece) - len(piece.lstrip())
            args.append((piece.strip(), start_col + begin + lead))
            begin = i + 1
        i += 1
    return args


def expand(macro: Macro, args: list[tuple[str, int]], serial: int,
           call_col: int) -> list[tuple[str, str, int]]:
    """The body of `macro` with its arguments substituted."""
    if len(args) != len(macro.params):
        want = len(macro.params)
        raise LineError(f"macro '{macro.name}' takes {want} argument{'s' * (want != 1)}"
                        f" ({', '.join(macro.params) or 'none'}), got {len(args)}",
                        args[want][1] if len(args) > want else call_col)
    values = dict(zip(macro.params, (a for a, _ in args)))
    values["@"] = str(serial)
    out = []
    for text, file, line in macro.body:
        if "\\" in text:
            text = _PARAM_REF.sub(lambda m: values.get(m.group(1), m.group(0)), text)
        out.append((text, file, line))
    return out


def unknown_reference(text: str, params: list[str]) -> tuple[str, int] | None:
    """A `\\name` in a body line that names no parameter, outside strings."""
    code = strip_comment(text)
    for m in _PARAM_REF.finditer(code):
        name = m.group(1)
        if name != "@" and name not in params and not _inside_quotes(code, m.start()):
            return name, m.start() + 1
    return None


def _inside_quotes(text: str, pos: int) -> bool:
    quote = None
    i = 0
    while i < pos:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        i += 1
    return quote is not None
