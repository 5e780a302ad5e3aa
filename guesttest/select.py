"""`-k EXPR`: selecting runs by their id, as pytest does."""
from __future__ import annotations

import re

class KeywordError(ValueError):
    pass


def keyword_matcher(expr: str):
    """A predicate on test ids for `-k EXPR`: words match as case-insensitive substrings,
    combined with `and`, `or`, `not` and parentheses (pytest's simple form)."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expr)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def parse_or():
        left = parse_and()
        while peek() == "or":
            take()
            right = parse_and()
            left = (lambda a, b: lambda s: a(s) or b(s))(left, right)
        return left

    def parse_and():
        left = parse_not()
        while peek() == "and":
            take()
            right = parse_not()
            left = (lambda a, b: lambda s: a(s) and b(s))(left, right)
        return left

    def parse_not():
        if peek() == "not":
            take()
            inner = parse_not()
            return lambda s: not inner(s)
        return parse_atom()

    def parse_atom():
        t = peek()
        if t is None:
            raise KeywordError(f"-k {expr!r}: expression ends too early")
        if t == "(":
            take()
            inner = parse_or()
            if peek() != ")":
                raise KeywordError(f"-k {expr!r}: missing ')'")
            take()
            return inner
        if t in (")", "and", "or"):
            raise KeywordError(f"-k {expr!r}: unexpected {t!r}")
        word = take().lower()
        return lambda s: word in s.lower()

    if not tokens:
        return lambda s: True
    pred = parse_or()
    if pos != len(tokens):
        raise KeywordError(f"-k {expr!r}: unexpected {tokens[pos]!r}")
    return pred
