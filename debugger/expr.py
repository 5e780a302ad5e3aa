"""Expressions in the debugger: the assembly language's (numbers, 'c', symbols,
+ - * / % << >> & | ^ ~ ( )) plus registers (`r3`, `sp`, `pc`, `$r3`), control registers
(`status`, `$epc`, ...; the guest's virtual ones under the hypervisor), `icount`, memory
(`*ADDR` or `[ADDR]` reads a word; `*b`, `*h` a byte or half word) and comparisons
(== != < <= > >= && || !) for breakpoint conditions. Values are 32-bit unsigned;
comparisons `<` `>` are unsigned.
"""
from __future__ import annotations

import re

M32 = 0xFFFF_FFFF


class ExprError(ValueError):
    pass


_TOKEN = re.compile(r"""\s*(?:
    (?P<num>0[xX][0-9a-fA-F_]+|0[bB][01_]+|\d[\d_]*)
  | (?P<chr>'(?:\\.|[^'\\])')
  | (?P<name>\$?[A-Za-z_.][A-Za-z0-9_.]*)
  | (?P<op>\*b|\*h|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^~()<>!\[\]])
)""", re.VERBOSE)

_ESC = {"n": 10, "t": 9, "\\": 92, "'": 39, '"': 34, "0": 0, "r": 13}

# binary operators by precedence (lowest first)
_LEVELS = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", "<=", ">", ">="),
           ("<<", ">>"), ("+", "-"), ("*", "/", "%")]


def tokenize(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExprError(f"cannot read {text[pos:].strip()!r} in expression")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class Evaluator:
    """Evaluates against `lookup(name) -> int | None` and `read(addr, n) -> int | None`.
    Expressions are parsed once into a tree (a breakpoint's condition is evaluated at
    every hit)."""

    def __init__(self, lookup, read):
        self.lookup = lookup
        self.read = read

    def eval(self, text: str) -> int:
        return self._value(parse(text)) & M32

    def _value(self, node) -> int:
        kind = node[0]
        if kind == "num":
            return node[1]
        if kind == "name":
            v = self.lookup(node[1])
            if v is None:
                raise ExprError(f"no symbol or register '{node[2]}'")
            return v & M32
        if kind == "un":
            v = self._value(node[2])
            return {"-": -v, "~": ~v, "!": int(v == 0), "+": v}[node[1]] & M32
        if kind == "mem":
            addr = self._value(node[2]) & M32
            v = self.read(addr, node[1])
            if v is None:
                raise ExprError(f"cannot read memory at 0x{addr:x}")
            return v
        op, left, right = node[1], node[2], node[3]
        if op == "&&":
            return int(bool(self._value(left)) and bool(self._value(right)))
        if op == "||":
            return int(bool(self._value(left)) or bool(self._value(right)))
        return _apply(op, self._value(left), self._value(right))


_PARSED: dict = {}


def parse(text: str):
    """The expression's tree (cached): ('num', v) | ('name', key, spelling) |
    ('un', op, x) | ('mem', size, x) | ('bin', op, x, y)."""
    tree = _PARSED.get(text)
    if tree is None:
        tree = _Parser(text).parse()
        if len(_PARSED) > 4096:
            _PARSED.clear()
        _PARSED[text] = tree
    return tree


class _Parser:
    def __init__(self, text: str):
        self.toks = tokenize(text)
        self.i = 0

    def parse(self):
        if not self.toks:
            raise ExprError("empty expression")
        v = self._binary(0)
        if self.i != len(self.toks):
            raise ExprError(f"unexpected {self.toks[self.i][1]!r} in expression")
        return v

    def _peek(self):
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def _binary(self, level: int):
        if level == len(_LEVELS):
            return self._unary()
        v = self._binary(level + 1)
        while self._peek() in _LEVELS[level] and self.toks[self.i][0] == "op":
            op = self.toks[self.i][1]
            self.i += 1
            v = ("bin", op, v, self._binary(level + 1))
        return v

    def _unary(self):
        t = self._peek()
        if t is None:
            raise ExprError("expression ends too early")
        kind = self.toks[self.i][0]
        if kind == "op":
            if t in ("-", "~", "!", "+"):
                self.i += 1
                return ("un", t, self._unary())
            if t in ("*", "*b", "*h"):
                self.i += 1
                return ("mem", {"*": 4, "*b": 1, "*h": 2}[t], self._unary())
            if t == "(":
                self.i += 1
                v = self._binary(0)
                self._expect(")")
                return v
            if t == "[":
                self.i += 1
                v = self._binary(0)
                self._expect("]")
                return ("mem", 4, v)
            raise ExprError(f"unexpected {t!r} in expression")
        self.i += 1
        if kind == "num":
            return ("num", int(t.replace("_", ""), 0) & M32)
        if kind == "chr":
            body = t[1:-1]
            return ("num", _ESC.get(body[1], ord(body[1])) if body.startswith("\\") else ord(body))
        return ("name", t[1:] if t.startswith("$") else t, t)

    def _expect(self, tok: str) -> None:
        if self._peek() != tok:
            raise ExprError(f"expected {tok!r} in expression")
        self.i += 1


def _apply(op: str, a: int, b: int) -> int:
    a &= M32
    b &= M32
    if op in ("/", "%"):
        if b == 0:
            raise ExprError("division by zero")
        return a // b if op == "/" else a % b
    return {
        "||": lambda: int(bool(a) or bool(b)), "&&": lambda: int(bool(a) and bool(b)),
        "|": lambda: a | b, "^": lambda: a ^ b, "&": lambda: a & b,
        "==": lambda: int(a == b), "!=": lambda: int(a != b),
        "<": lambda: int(a < b), "<=": lambda: int(a <= b),
        ">": lambda: int(a > b), ">=": lambda: int(a >= b),
        "<<": lambda: a << (b & 31), ">>": lambda: a >> (b & 31),
        "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
    }[op]() & M32
