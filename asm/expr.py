"""Expressions: the operand values of instructions and directives.

Values are mathematical integers, checked against the range of the field they end up in
(32 bits for immediates and `.word`, 8 for `.byte` and ports, ...). Every intermediate
result must fit in 64 bits, so a hostile expression cannot grow a huge integer; `~x` is the
32-bit complement, as on the machine. `/` and `%` truncate toward zero as in C.
"""
from __future__ import annotations

from typing import Callable

from .errors import LineError

LIMIT = 1 << 64
MASK32 = 0xFFFF_FFFF
MAX_SHIFT = 64


class Num:
    __slots__ = ("value", "col")

    def __init__(self, value: int, col: int):
        self.value = value
        self.col = col

    def __repr__(self) -> str:
        return f"Num({self.value})"


class Sym:
    __slots__ = ("name", "col")

    def __init__(self, name: str, col: int):
        self.name = name
        self.col = col

    def __repr__(self) -> str:
        return f"Sym({self.name!r})"


class Reg:
    """A register name where an operand is expected; never a value in an expression."""
    __slots__ = ("num", "name", "col")

    def __init__(self, num: int, name: str, col: int):
        self.num = num
        self.name = name
        self.col = col

    def __repr__(self) -> str:
        return f"Reg({self.name})"


class BinOp:
    __slots__ = ("op", "left", "right", "col")

    def __init__(self, op: str, left, right, col: int):
        self.op = op
        self.left = left
        self.right = right
        self.col = col


class UnOp:
    __slots__ = ("op", "arg", "col")

    def __init__(self, op: str, arg, col: int):
        self.op = op
        self.arg = arg
        self.col = col


def _div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _mod(a: int, b: int) -> int:
    return a - b * _div(a, b)


def _shift_count(b: int) -> int:
    if not 0 <= b <= MAX_SHIFT:
        raise ValueError(f"shift count {b} out of range (0..{MAX_SHIFT})")
    return b


BINARY: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _div,
    "%": _mod,
    "<<": lambda a, b: a << _shift_count(b),
    ">>": lambda a, b: a >> _shift_count(b),
    "&": lambda a, b: a & b,
    "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
}

UNARY: dict[str, Callable[[int], int]] = {
    "-": lambda a: -a,
    "~": lambda a: (a & MASK32) ^ MASK32,
}


def apply_binary(op: str, a: int, b: int, col: int) -> int:
    if b == 0 and op in "/%":
        raise LineError("division by zero in expression", col)
    try:
        v = BINARY[op](a, b)
    except ValueError as e:
        raise LineError(str(e), col) from None
    if not -LIMIT < v < LIMIT:
        raise LineError("expression value out of range (more than 64 bits)", col)
    return v


def binary(op: str, left, right, col: int):
    """Build `left op right`, folding constants now so that pass 2 has less to do."""
    if type(left) is Num and type(right) is Num:
        return Num(apply_binary(op, left.value, right.value, right.col), left.col)
    return BinOp(op, left, right, left.col)


def unary(op: str, arg, col: int):
    if type(arg) is Num:
        return Num(UNARY[op](arg.value), col)
    return UnOp(op, arg, col)


def evaluate(node, lookup: Callable[[Sym], int]) -> int:
    """The value of `node`; `lookup` resolves a symbol or raises LineError."""
    t = type(node)
    if t is Num:
        return node.value
    if t is Sym:
        return lookup(node)
    try:
        return _evaluate(node, lookup)
    except RecursionError:
        raise LineError("expression too deeply nested", node.col) from None


def _evaluate(node, lookup) -> int:
    t = type(node)
    if t is Num:
        return node.value
    if t is Sym:
        return lookup(node)
    if t is BinOp:
        return apply_binary(node.op, _evaluate(node.left, lookup), _evaluate(node.right, lookup),
                            node.right.col)
    if t is UnOp:
        return UNARY[node.op](_evaluate(node.arg, lookup))
    if t is Reg:
        raise LineError(f"register '{node.name}' cannot be part of an expression", node.col)
    raise LineError("expected an expression", getattr(node, "col", None))

