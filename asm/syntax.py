"""Parsing one source line into labels and a statement (grammar in `grammar.lark`).

The LALR parser runs with the transformer inside the parse, so a line comes out directly
as `Line` objects and folded expressions, with no intermediate tree.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from lark import Lark, Transformer
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from vcpu.isa import REGISTER_NAMES

from .errors import LineError
from .expr import BinOp, Num, Reg, Sym, binary, unary

GRAMMAR = Path(__file__).with_name("grammar.lark")


class Mem:
    """`[base + offset]`."""
    __slots__ = ("base", "offset", "col")

    def __init__(self, base: int, offset, col: int):
        self.base = base
        self.offset = offset
        self.col = col


class Str:
    __slots__ = ("data", "col")

    def __init__(self, data: bytes, col: int):
        self.data = data
        self.col = col


@dataclass
class Statement:
    kind: str              # "instruction" or "directive"
    name: str              # lower case; directives keep their leading dot
    col: int
    operands: list = field(default_factory=list)
    spelling: str = ""     # as written, for messages


@dataclass
class Line:
    labels: list[tuple[str, int]]     # (name, col)
    statement: Statement | None


EMPTY = Line([], None)

# --- literals --------------------------------------------------------------------------

_SIMPLE_ESCAPES = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, '"': 34, "'": 39,
                   "a": 7, "b": 8, "f": 12, "v": 11, "e": 27, "?": 63}


def unescape(body: str, col: int) -> bytes:
    """C escapes of a string or character literal body; `col` is the body's first column."""
    if "\\" not in body:
        return body.encode()
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        ch = body[i]
        if ch != "\\":
            out += ch.encode()
            i += 1
            continue
        esc = body[i + 1] if i + 1 < n else ""
        if esc == "x":
            digits = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:i + 4])
            if not digits:
                raise LineError("\\x needs one or two hex digits", col + i)
            out.append(int(digits.group(), 16))
            i += 2 + len(digits.group())
        elif esc in "01234567" and esc:
            digits = re.match(r"[0-7]{1,3}", body[i + 1:i + 4]).group()
            if int(digits, 8) > 255:
                raise LineError(f"octal escape \\{digits} out of range", col + i)
            out.append(int(digits, 8))
            i += 1 + len(digits)
        elif esc in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[esc])
            i += 2
        else:
            raise LineError(f"unknown escape '\\{esc}'", col + i)
    return bytes(out)


_HEX = re.compile(r"0[xX][0-9a-fA-F]+\Z")
_BIN = re.compile(r"0[bB][01]+\Z")
_DEC = re.compile(r"[0-9]+\Z")
_MAX_DIGITS = 70    # more than any 64-bit value needs; longer is an error, not a huge int


def number(text: str, col: int) -> int:
    digits = text.replace("_", "") if "_" in text else text
    if len(digits) > _MAX_DIGITS:
        raise LineError(f"number too large: {text[:20]}...", col)
    if _DEC.match(digits):
        return int(digits)
    if _HEX.match(digits):
        return int(digits, 16)
    if _BIN.match(digits):
        return int(digits, 2)
    raise LineError(f"invalid number '{text}'", col)


# --- the transformer -------------------------------------------------------------------

class _ToLine(Transformer):
    """Called by the LALR parser on every reduction."""

    def start(self, items):
        labels = [i for i in items if type(i) is tuple]
        stmt = items[-1] if items and type(items[-1]) is Statement else None
        return Line(labels, stmt)

    def label(self, items):
        tok = items[0]
        if tok.lower() in REGISTER_NAMES:
            raise LineError(f"'{tok}' is a register name and cannot be a label", tok.column)
        return (str(tok), tok.column)

    def instruction(self, items):
        tok = items[0]
        return Statement("instruction", tok.lower(), tok.column, items[1] if len(items) > 1 else [],
                         str(tok))

    def directive(self, items):
        tok = items[0]
        return Statement("directive", tok.lower(), tok.column, items[1] if len(items) > 1 else [],
                         str(tok))

    def operands(self, items):
        return items

    def mem(self, items):
        return _split_address(items[1], items[0].column)

    def string(self, items):
        tok = items[0]
        return Str(unescape(tok[1:-1], tok.column + 1), tok.column)

    def number(self, items):
        tok = items[0]
        return Num(number(tok, tok.column), tok.column)

    def char(self, items):
        tok = items[0]
        data = unescape(tok[1:-1], tok.column + 1)
        if len(data) != 1:
            raise LineError("a character literal must be exactly one byte", tok.column)
        return Num(data[0], tok.column)

    def symbol(self, items):
        tok = items[0]
        reg = REGISTER_NAMES.get(tok.lower())
        if reg is not None:
            return Reg(reg, tok.lower(), tok.column)
        return Sym(str(tok), tok.column)

    def neg(self, items):
        return unary("-", items[0], items[0].col - 1)

    def inv(self, items):
        return unary("~", items[0], items[0].col - 1)


    def binop_chain(self, items):
        # Operator precedence (C's, all left-associative) over `a op b op c ...`.
        values = [items[0]]
        ops: list[str] = []
        for k in range(1, len(items), 2):
            op = str(items[k])
            level = PRECEDENCE[op]
            while ops and PRECEDENCE[ops[-1]] >= level:
                _reduce(values, ops)
            ops.append(op)
            values.append(items[k + 1])
        while ops:
            _reduce(values, ops)
        return values[0]


PRECEDENCE = {"|": 1, "^": 2, "&": 3, "<<": 4, ">>": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}


def _reduce(values: list, ops: list) -> None:
    right = values.pop()
    left = values.pop()
    values.append(binary(ops.pop(), left, right, right.col))


def _split_address(expr, col: int) -> Mem:
    """`[ra]`, `[ra + e]`, `[ra - e]`, `[e + ra]`: one register with a plus sign among the
    terms of a sum; the other terms are the offset."""
    terms: list[tuple[int, object]] = []     # (sign, node)
    todo = [(1, expr)]
    while todo:
        sign, node = todo.pop()
        if type(node) is BinOp and node.op in "+-":
            todo.append((sign if node.op == "+" else -sign, node.right))
            todo.append((sign, node.left))
        else:
            terms.append((sign, node))
    regs = [(s, n) for s, n in terms if type(n) is Reg]
    if not regs:
        raise LineError("a memory operand needs a base register: [ra + offset]", expr.col)
    if len(regs) > 1 or regs[0][0] < 0:
        raise LineError("a memory operand is [ra], [ra + offset] or [ra - offset]", regs[-1][1].col)
    base = regs[0][1]
    offset = None
    for sign, node in terms:
        if node is base:
            continue
        if offset is None:
            offset = node if sign > 0 else unary("-", node, node.col)
        else:
            offset = binary("+" if sign > 0 else "-", offset, node, node.col)
    if offset is None:
        offset = Num(0, base.col)
    return Mem(base.num, offset, col)


# --- the parser ------------------------------------------------------------------------

_parser: Lark | None = None


def parser() -> Lark:
    global _parser
    if _parser is None:
        _parser = Lark(GRAMMAR.read_text(), parser="lalr", transformer=_ToLine(),
                       cache=_cache_path())
    return _parser


def _cache_path() -> bool:
    # lark's cache lives in the temp directory; without a writable one, build the parser
    # each time (20 ms slower, same result).
    import os
    import tempfile
    return os.access(tempfile.gettempdir(), os.W_OK)


def parse_line(text: str) -> Line:
    """Parse one line (without its newline). Raises LineError with a column."""
    s = text.lstrip()
    if not s or s[0] == ";":
        return EMPTY
    try:
        return parser().parse(text)
    except UnexpectedInput as e:
        raise _syntax_error(e, text) from None


# What a person would call the grammar's terminals.
_TERMINALS = {
    "COMMA": "','", "COLON": "':'", "LSQB": "'['", "RSQB": "']'", "LPAR": "'('", "RPAR": "')'",
    "NAME": "a name", "NUMBER": "a number", "CHAR": "a character", "STRING": "a string",
    "DIRECTIVE": "a directive", "$END": "end of line",
}
_OPERATORS = {"BINOP", "PLUS", "MINUS", "TILDE"}
_EXPR_START = {"NUMBER", "CHAR", "NAME", "LPAR"}


def _expected(names, tok=None, before: str = "") -> str:
    names = set(names)
    # LALR merges states, so ')' and ']' are "expected" even with nothing open: drop them
    # unless a bracket is really open before the error.
    if before.count("(") <= before.count(")"):
        names.discard("RPAR")
    if before.count("[") <= before.count("]"):
        names.discard("RSQB")
    # "add r1 r2": the operand is fine, the comma is missing.
    if tok is not None and tok.type in _EXPR_START and "COMMA" in names:
        names -= _OPERATORS
    parts = []
    if _EXPR_START <= names:
        parts.append("an operand" if "LSQB" in names else "an expression")
        names -= _EXPR_START | {"MINUS", "TILDE", "PLUS", "LSQB", "STRING"}
    if names & _OPERATORS and not parts:
        parts.append("an operator")
    names -= _OPERATORS
    parts += sorted(_TERMINALS.get(n, n.lower()) for n in names)
    if len(parts) > 1:
        return ", ".join(parts[:-1]) + " or " + parts[-1]
    return parts[0] if parts else "something else"


def _syntax_error(e: UnexpectedInput, text: str) -> LineError:
    if isinstance(e, UnexpectedCharacters):
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        if ch == '"':
            return LineError("unterminated string", e.column)
        if ch == "'":
            return LineError("unterminated character literal", e.column)
        if ch == "\\":
            return LineError("'\\' outside a string (macro parameters only work inside a macro)",
                             e.column)
        shown = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
        return LineError(f"unexpected character {shown}", e.column)
    if isinstance(e, UnexpectedToken):
        tok = e.token
        if tok.type == "$END":
            return LineError(f"unexpected end of line; expected {_expected(e.expected, None, text)}",
                             len(text.rstrip()) + 1)
        shown = str(tok) if len(tok) <= 30 else str(tok)[:27] + "..."
        before = text[:tok.start_pos] if tok.start_pos is not None else text
        return LineError(f"unexpected '{shown}'; expected {_expected(e.expected, tok, before)}",
                         tok.column)
    if isinstance(e, UnexpectedEOF):
        return LineError(f"unexpected end of line; expected {_expected(e.expected, None, text)}",
                         len(text.rstrip()) + 1)
    return LineError(str(e).splitlines()[0], getattr(e, "column", None))
