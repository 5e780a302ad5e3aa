"""Reverse-execution figures: `python -m debugger.bench [--core c|py] [--n N] [--hv]`.

A loop of N retired instructions (default 10**7) with a call at its start. Measured side by
side in one process:
  - recording overhead: `continue` under the debugger (checkpoints every interval) against
    the same run on the plain machine (`hv run`'s loop), alternated, best of 5 each;
  - reverse-stepi at random points of the run (the machine is first taken there; the
    reverse-stepi alone is timed), median and worst;
  - reverse-continue from the end back to a breakpoint at the start, N instructions back;
  - continue from the start to a breakpoint at the end, N instructions ahead;
  - reverse-continue from the end back to a watchpoint on the first call's stack word;
  - (one CPU) `next` over a call of N instructions, `finish` out of it, `reverse-next`.
Options: --paging (the loop runs with paging on), --cpus N (every CPU runs it).
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

from asm.assembler import assemble
from vcpu.isa import DEFAULT_QUANTUM
from vcpu.machine import Machine

from .engine import Debugger

SOURCE = """
.entry main
main:
{setup}
    call marker             ; the breakpoint, N instructions before the end
    li   r1, 0
    li   r2, {iters}
loop:
    add  r1, r1, 1
    blt  r1, r2, loop
    halt
marker:
    ret
"""

# --cpus N: a stack per CPU (the machine's memory is 64 KiB)
STACKS = """
    mfcr r7, cpuid
    shl  r7, r7, 10
    li   sp, 0x10000
    sub  sp, sp, r7
"""

# --paging: the loop runs with paging on, through an identity map of the 16 pages
PAGING = """
    li   r1, 0x8000         ; the page directory
    li   r2, 0x9003         ; entry 0 -> the page table at 0x9000, present + writable
    st   r2, [r1]
    li   r3, 0
    li   r4, 0x9000
map:
    shl  r5, r3, 12
    or   r5, r5, 3          ; page r3 -> frame r3, present + writable
    st   r5, [r4]
    add  r4, r4, 4
    add  r3, r3, 1
    li   r6, 16
    blt  r3, r6, map
    mtcr ptbr, r1
    li   r1, 5              ; kernel mode, paging on
    mtcr status, r1
"""


# A call that runs the whole loop: what `next`, `finish` and `reverse-next` go over.
LONG_CALL = """
.entry main
main:
    call long
    halt
long:
    li   r1, 0
    li   r2, {iters}
again:
    add  r1, r1, 1
    blt  r1, r2, again
    ret
"""


def STACK_WORD(cpus: int) -> int:
    """Where the last CPU's `call marker` writes its return address."""
    return 0x10000 - (cpus - 1) * 1024 - 4 if cpus > 1 else 0x10000 - 4


def program(n: int, paging: bool = False, cpus: int = 1):
    """The benchmark's program: about `n` retired instructions (per CPU)."""
    setup = (STACKS if cpus > 1 else "") + (PAGING if paging else "")
    return assemble(SOURCE.format(iters=max(1, (n - 6) // 2), setup=setup), "bench.s")


def best(f, k=3):
    out = []
    for _ in range(k):
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return min(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m debugger.bench")
    ap.add_argument("--core", choices=("c", "py"), default="c")
    ap.add_argument("--n", type=int, default=10**7)
    ap.add_argument("--hv", action="store_true")
    ap.add_argument("--points", type=int, default=10)
    ap.add_argument("--paging", action="store_true", help="run the loop with paging on")
    ap.add_argument("--cpus", type=int, default=1, help="every CPU runs the loop")
    a = ap.parse_args(argv)
    image = program(a.n // a.cpus, a.paging, a.cpus)

    def plain():
        if a.hv:
            from hypervisor.host import Host, frames_needed
            h = Host(frames_needed(65536, a.cpus) * 4096)
            h.add("g", image, mem_size=65536, core=a.core, cpus=a.cpus)
            h.run()
        else:
            Machine(image, core=a.core, cpus=a.cpus).run()

    def recorded():
        d = Debugger(image, core=a.core, hv=a.hv, cpus=a.cpus)
        d.cont()
        return d
    # Alternated, best of 5 each: the machine is shared and its load changes.
    t_plain, t_rec = float("inf"), float("inf")
    for _ in range(5):
        t_plain = min(t_plain, best(plain, 1))
        t_rec = min(t_rec, best(recorded, 1))
    d = recorded()
    end = d.icount
    print(f"run: {end} instructions, {a.core} core, {'hv' if a.hv else 'bare'}, "
          f"{a.cpus} CPU{'s' if a.cpus > 1 else ''}, paging {'on' if a.paging else 'off'}")
    print(f"recording overhead: plain {t_plain * 1e3:.0f} ms, under the debugger "
          f"{t_rec * 1e3:.0f} ms: {100 * (t_rec / t_plain - 1):+.1f} % "
          f"({len(d.cp.states)} checkpoints, {d.cp.bytes / 2**20:.1f} MiB)")
    rng = random.Random(1)
    times = []
    for _ in range(a.points):
        p = rng.randrange(1, end)
        d.goto(p)
        t = time.perf_counter()
        d.reverse_stepi()
        times.append(time.perf_counter() - t)
        assert d.icount < p
    print(f"reverse-stepi at {a.points} random points: median "
          f"{statistics.median(times) * 1e3:.1f} ms, worst {max(times) * 1e3:.1f} ms")
    d.goto(end)
    d.add_breakpoint("marker")
    t = time.perf_counter()
    stop = d.reverse_continue()
    dt = time.perf_counter() - t
    assert stop.reason == "breakpoint" and d.icount < 200 + a.cpus * DEFAULT_QUANTUM, (stop, d.icount)
    print(f"reverse-continue {end - d.icount} instructions back to a breakpoint: {dt:.2f} s")
    d.delete()
    d.goto(0)
    d.add_breakpoint("*0x%x" % (d.lookup("marker") - 1))       # the halt, at the end
    t = time.perf_counter()
    stop = d.cont()
    dt = time.perf_counter() - t
    assert stop.reason == "breakpoint" and d.icount >= end - a.cpus * (200 + DEFAULT_QUANTUM), (stop, d.icount)
    print(f"continue {d.icount} instructions forward to a breakpoint: {dt:.2f} s")
    d.delete()
    d.goto(end)
    d.add_watchpoint("0x%x" % STACK_WORD(a.cpus), kind="watch")
    t = time.perf_counter()
    stop = d.reverse_continue()
    dt = time.perf_counter() - t
    assert stop.reason == "watchpoint" and d.icount < 200 + a.cpus * DEFAULT_QUANTUM, (stop, d.icount)
    print(f"reverse-continue {end - d.icount} instructions back to a watchpoint: {dt:.2f} s")
    if a.cpus == 1:
        line_steps(a)
    return 0


def line_steps(a) -> None:
    """`next` over a call of N instructions, `finish` out of it, `reverse-next` back."""
    image = assemble(LONG_CALL.format(iters=max(1, (a.n - 4) // 2)), "long.s")
    d = Debugger(image, core=a.core, hv=a.hv)
    t = time.perf_counter()
    stop = d.step(over=True)
    t_next = time.perf_counter() - t
    assert stop.reason == "step" and d.icount > a.n // 2, (stop, d.icount)
    n = d.icount
    t = time.perf_counter()
    stop = d.reverse_step(over=True)
    t_rnext = time.perf_counter() - t
    assert stop.reason == "step" and d.icount == 0, (stop, d.icount)
    d.stepi(3)
    t = time.perf_counter()
    stop = d.finish()
    t_finish = time.perf_counter() - t
    assert stop.reason == "step" and d.icount == n, (stop, d.icount)
    print(f"over a call of {n} instructions: next {t_next:.2f} s, finish {t_finish:.2f} s, "
          f"reverse-next {t_rnext:.2f} s")


if __name__ == "__main__":
    raise SystemExit(main())
