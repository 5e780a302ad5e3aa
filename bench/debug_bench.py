"""What a debugger's settings cost the native core: the same guest run with nothing set,
with one breakpoint on an address the guest never executes (in its code page, past the
end), and with one watchpoint on a word it never touches. Side by side in one process,
best of `repeat` runs each, interleaved; the figures are ratios to "nothing set".

    python -m bench.debug_bench [--quick]        (or: hv bench --only debug)

A breakpoint costs nothing per instruction (fetch windows are built around it); a
watchpoint sends every data access through the slow path, so a loop of loads and stores
pays for it and a loop without any does not.
"""
from __future__ import annotations

import argparse
import time

from vcpu.isa import WATCH_READ, WATCH_WRITE, Exit

from .core_bench import ORG, WORKLOADS, _boot

SETTINGS = ("nothing set", "breakpoint not reached", "watchpoint not touched")


def _once(name: str, size: int, setting: str) -> float:
    w = WORKLOADS[name]
    code = w["build"](size)
    mem_size = w.get("mem_size", 1 << 20)
    core = _boot("c", code, mem_size=mem_size, paging=w.get("paging", False))
    if setting == SETTINGS[1]:
        core.set_debug(breakpoints=[ORG + len(code) + 16])
    elif setting == SETTINGS[2]:
        core.set_debug(watchpoints=[(mem_size - 64, 4, WATCH_READ | WATCH_WRITE)])
    t0 = time.perf_counter()
    ex = core.run(1 << 62)
    dt = time.perf_counter() - t0
    if ex.reason != Exit.HALT:
        raise RuntimeError(f"benchmark guest stopped with {ex.describe()}")
    return core.icount / dt


def measure(quick: bool = False) -> list[dict]:
    """Per workload and setting: instructions per second (best of the runs) and the ratio
    to the same workload with nothing set."""
    sizes = {"loop": 5_000_000 if quick else 50_000_000, "sieve": 50_000 if quick else 200_000,
             "mem": 20 if quick else 200}
    repeat = 2 if quick else 5
    rows = []
    for name, size in sizes.items():
        best = dict.fromkeys(SETTINGS, 0.0)
        for _ in range(repeat):
            for s in SETTINGS:                   # interleaved: drift hits all alike
                best[s] = max(best[s], _once(name, size, s))
        for s in SETTINGS:
            rows.append({"workload": name, "setting": s, "ips": best[s],
                         "ratio": best[s] / best[SETTINGS[0]]})
    return rows


WHAT = {"loop": "loop (ALU, no data access)", "sieve": "sieve (ldb/stb, paging off)",
        "mem": "mem (ld/st, paging on)"}


def section(quick: bool, table) -> None:
    rows = measure(quick)
    table("Debug settings on the native core (one breakpoint / one watchpoint, never hit)",
          ["workload", "setting", "M instr/s", "vs nothing set"],
          [[WHAT[r["workload"]], r["setting"], f"{r['ips'] / 1e6:.0f}", f"{r['ratio']:.2f}×"]
           for r in rows])


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()

    def _print(title, cols, rows):
        print(title)
        print("  " + " | ".join(cols))
        for r in rows:
            print("  " + " | ".join(r))
    section(args.quick, _print)
