"""Several CPUs (brief §11): what the turns cost, measured side by side in one run.

- aggregate rate: N CPUs running a compute loop at the default quantum retire instructions
  at this fraction of the one-CPU rate (all on the C core, the turns run inside it);
- the hypervisor vs the bare machine for the same SMP compute guest;
- the cost of one turn switch inside the core (quantum 1 vs quantum 1000, two CPUs);
- an IPI round trip in guest instructions (guests/smp.s's ping-pong, per quantum).

`python -m bench.smp_bench` prints the figures; `hv bench --only smp` shows them as tables.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

from asm.assembler import assemble, assemble_file
from vcpu.cores import make_core
from vcpu.image import Image
from vcpu.isa import DEFAULT_QUANTUM
from vcpu.machine import boot_state

ROOT = Path(__file__).resolve().parent.parent

# Every CPU counts forever in its own registers: no memory traffic, no exits.
COMPUTE = """
.entry start
start:
    mfcr r3, cpuid
loop:
    add  r1, r1, 1
    xor  r2, r2, r1
    add  r2, r2, r3
    jmp  loop
"""


def _image() -> Image:
    return assemble(COMPUTE, "<smp-bench>")


def _rate(cpus: int, quantum: int, slots: int, repeat: int) -> float:
    """Slots per second of the C core running COMPUTE on `cpus` CPUs (best of `repeat`)."""
    image = _image()
    best = 0.0
    for _ in range(repeat):
        core = make_core("c", mem_size=65536, cpus=cpus, quantum=quantum)
        image.load_into(core.mem)
        boot_state(core, image, 65536)
        t0 = time.perf_counter()
        core.run(slots)
        dt = time.perf_counter() - t0
        best = max(best, slots / dt)
    return best


def aggregate(cpus_list=(1, 2, 4, 8, 16), slots: int = 50_000_000, repeat: int = 5) -> list[dict]:
    base = _rate(1, DEFAULT_QUANTUM, slots, repeat)
    rows = []
    for n in cpus_list:
        r = base if n == 1 else _rate(n, DEFAULT_QUANTUM, slots, repeat)
        rows.append({"cpus": n, "ips": r, "relative": r / base})
    return rows


def turn_switch_ns(slots: int = 4_000_000, repeat: int = 3) -> float:
    """ns per turn switch: two CPUs at quantum 1 (a switch every slot) against quantum 1000,
    the same work."""
    fast = _rate(2, 1000, slots, repeat)
    slow = _rate(2, 1, slots, repeat)
    switches = slots                      # quantum 1: one switch per slot
    return (slots / slow - slots / fast) / switches * 1e9


def hv_vs_bare(cpus: int = 4, slots: int = 5_000_000, repeat: int = 3) -> dict:
    from hypervisor.runner import run_image
    image = _image()
    bare = min(run_image(image, "c", "bare", cpus=cpus, max_steps=slots).seconds
               for _ in range(repeat))
    hv = min(run_image(image, "c", "hv", cpus=cpus, max_steps=slots).seconds
             for _ in range(repeat))
    return {"cpus": cpus, "slots": slots, "bare_s": bare, "hv_s": hv, "ratio": bare / hv}


def ipi_round_trip(quanta=(1, 10, 100, 1000)) -> list[dict]:
    """CPU 0 slots per IPI round trip in guests/smp.s (4 CPUs), per quantum."""
    from hypervisor.runner import run_image
    image = assemble_file(ROOT / "guests" / "smp.s")
    rows = []
    for q in quanta:
        r = run_image(image, "c", "bare", cpus=4, quantum=q, max_steps=None)
        m = re.search(rb"ping-pong: \d+ round trips, (\d+) CPU 0 slots each", r.output)
        rows.append({"quantum": q, "slots": int(m.group(1)) if m else None})
    return rows


def section(quick: bool, table) -> None:
    agg = aggregate((1, 2, 4) if quick else (1, 2, 4, 8, 16),
                    slots=4_000_000 if quick else 50_000_000, repeat=1 if quick else 5)
    table("Several CPUs, compute loop, C core, quantum 1,000 (aggregate)",
          ["CPUs", "M instr/s", "vs 1 CPU"],
          [[str(r["cpus"]), f"{r['ips'] / 1e6:.0f}", f"{r['relative']:.1%}"] for r in agg])
    hb = hv_vs_bare(slots=1_000_000 if quick else 50_000_000, repeat=1 if quick else 5)
    sw = turn_switch_ns(slots=1_000_000 if quick else 10_000_000, repeat=1 if quick else 5)
    table("Several CPUs: hypervisor, turn switch", ["what", "figure"], [
        [f"hypervisor vs bare, {hb['cpus']} CPUs, compute loop",
         f"{hb['ratio']:.1%} of bare speed"],
        ["one turn switch inside the C core", f"{sw:.1f} ns"]])
    ipi = ipi_round_trip((1, 10, 1000) if quick else (1, 10, 100, 1000))
    table("IPI round trip (guests/smp.s ping-pong, 4 CPUs)",
          ["quantum", "CPU 0 slots per round trip"],
          [[str(r["quantum"]), str(r["slots"])] for r in ipi])


if __name__ == "__main__":
    def _print(title, cols, rows):
        print(title)
        for r in rows:
            print("  " + " | ".join(r))
    section(False, _print)
