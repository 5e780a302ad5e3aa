"""Fair host time: fib.s's wall time beside each hostile guest, as a ratio to fib alone.

The scheduler counts guest instructions (the deterministic clock) but charges each guest
for the host time its slice cost; a guest whose instructions are dear for the host (a TLB
storm, a huge DMA per `out`) loses the rest of its slice and waits while the others catch
up. This measures what that buys: the time from the start of the run until fib.s powers
off, beside each guest of guests/hostile/, against fib.s alone. Best of `repeat` runs each,
measured side by side in one process.

    python -m bench.fairness [--repeat 5] [--core c] [--threads 2] [GUEST...]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from asm.loader import load_program
from hypervisor.host import Host, frames_needed

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ROOT / "guests" / "hostile"
MEM = 64 * 1024
# Guests that need something besides the defaults: (memory, disk size in bytes)
NEEDS = {"dma": (MEM, 8192), "disk_wrap": (MEM, 8192), "big_dma": (33 << 20, 32 << 20)}


def hostile_names() -> list[str]:
    return sorted(p.stem for p in HOSTILE.glob("*.s"))


def fib_time(hostile: str | None, core: str = "c", tmp: str | None = None,
             clock=time.perf_counter, threads: int = 1) -> float:
    """Seconds from the start of the run until fib.s stops, beside `hostile` (or alone):
    wall time by default; `clock=time.process_time` gives the host CPU time used until then,
    the steadier figure on a loaded machine."""
    fib = load_program(ROOT / "guests" / "fib.s")
    guests = [("fib", fib, MEM, None)]
    if hostile:
        mem, disk_bytes = NEEDS.get(hostile, (MEM, 0))
        disk = None
        if disk_bytes:
            disk = os.path.join(tmp or tempfile.gettempdir(), f"fair-{hostile}-{os.getpid()}.img")
            with open(disk, "wb") as f:
                f.truncate(disk_bytes)
        guests.append((hostile, load_program(HOSTILE / f"{hostile}.s"), mem, disk))
    host = Host(sum(frames_needed(m) for _, _, m, _ in guests) * 4096, host_threads=threads)
    vms = [host.add(n, img, mem_size=m, core=core, disk=d) for n, img, m, d in guests]
    done = {}
    fib_vm = vms[0]
    real_stop = fib_vm.stop

    def stop(*a, **kw):
        real_stop(*a, **kw)
        if "t" not in done:
            done["t"] = clock()
            host.close("fib finished")        # the measurement is over
    fib_vm.stop = stop
    t0 = clock()
    host.run(max_steps=50_000_000)
    if fib_vm.stop_kind != "poweroff":
        raise RuntimeError(f"fib beside {hostile}: {fib_vm.reason}")
    for _, _, _, d in guests:
        if d:
            os.unlink(d)
    return done["t"] - t0


def ratios(repeat: int = 3, core: str = "c", names=None, clock=time.perf_counter,
           threads: int = 1):
    """fib's solo time (best of `repeat`) and, per hostile guest, best time / solo time."""
    names = names or hostile_names()
    best = {n: float("inf") for n in [None, *names]}
    for _ in range(repeat):                    # interleaved: drift hits every guest alike
        for n in best:
            best[n] = min(best[n], fib_time(n, core, clock=clock, threads=threads))
    solo = best.pop(None)
    return solo, {n: t / solo for n, t in best.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fairness")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--core", choices=("c", "py"), default="c")
    ap.add_argument("--threads", type=int, default=1,
                    help="host threads (hv boot --host-threads); CPU time is per process")
    ap.add_argument("guests", nargs="*", help="hostile guests (default: all)")
    a = ap.parse_args(argv)
    solo_w, wall = ratios(a.repeat, a.core, a.guests or None, threads=a.threads)
    solo_c, cpu = ratios(a.repeat, a.core, a.guests or None, clock=time.process_time,
                         threads=a.threads)
    print(f"fib.s alone: {solo_w * 1000:.1f} ms wall, {solo_c * 1000:.1f} ms CPU "
          f"(best of {a.repeat}, core {a.core}, {a.threads} host thread(s))")
    print("| beside | fib's wall time / alone | fib's host CPU time / alone |")
    print("|---|---|---|")
    for n in sorted(wall, key=lambda n: -max(wall[n], cpu[n])):
        print(f"| {n} | {wall[n]:.2f}x | {cpu[n]:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
