"""Assembler throughput: lines per second on a generated 50,000-line program.

    PYTHONPATH=. python bench/asm_speed.py [LINES]
"""
from __future__ import annotations

import sys
import time

from asm.assembler import assemble

_BODY = (
    "loop{i}:",
    "    li   r1, {i}            ; a comment",
    "    add  r2, r1, r3",
    "    add  r2, r2, 0x{i:x} * 4 + 1",
    "    ld   r4, [sp + 8]",
    "    st   r4, [r5 - 4]",
    "    beq  r1, r2, loop{i}",
    "    call loop{i}",
    "    out  0x10, r4",
    "    mfcr r6, status",
)


def generate(lines: int) -> str:
    out = [".entry loop0", ".equ BASE, 0x1000"]
    i = 0
    while len(out) < lines - 2:
        out += [t.format(i=i) for t in _BODY]
        i += 1
    out += ["data: .word BASE, loop0", '    .asciz "done\\n"']
    return "\n".join(out[:lines]) + "\n"


def measure(lines: int = 50_000, repeat: int = 3) -> float:
    """Best lines/s over `repeat` runs (the parser is built, and cached, beforehand)."""
    text = generate(lines)
    assemble("nop\n")
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        assemble(text, "bench.s")
        best = min(best, time.perf_counter() - t0)
    return lines / best


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    print(f"assembler: {measure(n):,.0f} lines/s ({n:,} lines)")
