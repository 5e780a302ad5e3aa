"""Reverse-execution figures: `python -m debugger.bench [--core c|py] [--n N] [--hv]`.

A loop of N retired instructions (default 10**7) with a call at its start. Measured side by
side in one process:
  - recording overhead: `continue` under the debugger (checkpoints every interval) against
    the same run on the plain machine (`hv run`'s loop), alternated, best of 5 each;
  - reverse-stepi at random points of the run (the machine is first taken there; the
    reverse-stepi alone is timed), median and worst;
  - reverse-continue from the end back to a breakpoint at the start, N instructions back;
  - continue from the start to a breakpoint at the end, N instructions ahead.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

from asm.assembler import assemble
from vcpu.machine import Machine

from .engine import Debugger

SOURCE = """
.entry main
main:
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


def program(n: int):
    return assemble(SOURCE.format(iters=max(1, (n - 6) // 2)), "bench.s")


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
    a = ap.parse_args(argv)
    image = program(a.n)

    def plain():
        if a.hv:
            from hypervisor.host import Host, frames_needed
            h = Host(frames_needed(65536) * 4096)
            h.add("g", image, mem_size=65536, core=a.core)
            h.run()
        else:
            Machine(image, core=a.core).run()

    def recorded():
        d = Debugger(image, core=a.core, hv=a.hv)
        d.cont()
        return d
    # Alternated, best of 5 each: the machine is shared and its load changes.
    t_plain, t_rec = float("inf"), float("inf")
    for _ in range(5):
        t_plain = min(t_plain, best(plain, 1))
        t_rec = min(t_rec, best(recorded, 1))
    d = recorded()
    end = d.icount
    print(f"run: {end} instructions, {a.core} core, {'hv' if a.hv else 'bare'}")
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
        assert d.icount == p - 1
    print(f"reverse-stepi at {a.points} random points: median "
          f"{statistics.median(times) * 1e3:.1f} ms, worst {max(times) * 1e3:.1f} ms")
    d.goto(end)
    d.add_breakpoint("marker")
    t = time.perf_counter()
    stop = d.reverse_continue()
    dt = time.perf_counter() - t
    assert stop.reason == "breakpoint" and d.icount == 1, (stop, d.icount)
    print(f"reverse-continue {end - 1} instructions back to a breakpoint: {dt:.2f} s")
    d.delete()
    d.goto(0)
    d.add_breakpoint("*0x%x" % (d.lookup("marker") - 1))       # the halt, at the end
    t = time.perf_counter()
    stop = d.cont()
    dt = time.perf_counter() - t
    assert stop.reason == "breakpoint" and d.icount == end - 1, (stop, d.icount)
    print(f"continue {end - 1} instructions forward to a breakpoint: {dt:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
