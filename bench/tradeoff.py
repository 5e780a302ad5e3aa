"""The trade-off of Adams & Agesen (ASPLOS 2006) and Bhargava et al. (ASPLOS 2008), on this
machine: trap-and-emulate against a hardware-assisted guest mode, shadow against nested
paging, on four workloads (bench/workloads/):

  compute    a counted ALU loop: nothing to virtualize
  syscall    a user program making a system call every 4 instructions
  pagetable  two processes with their own page tables, switching address space on every
             yield, each touching 8 pages per turn
  io         a console printer: one `out` per byte

Per workload and mode: guest instructions, exits by reason, host time (seconds in the core
and in the hypervisor), slowdown against the bare machine, memory references per TLB miss
(bare: 2, a one-level walk of a two-level table; nested: up to 8), page-table exits.
"""
from __future__ import annotations

import time
from pathlib import Path

from asm.loader import load_program
from hypervisor.host import Host, frames_needed
from vcpu.machine import Machine

HERE = Path(__file__).resolve().parent
WORKLOADS = ["compute", "syscall", "pagetable", "io"]
MEM = 128 * 1024


def modes() -> list[tuple[str, str]]:
    from hypervisor.pg import available_modes
    return available_modes()


def _bare(img, core):
    m = Machine(img, mem_size=MEM, core=core)
    t = time.perf_counter()
    out = m.run(None)
    dt = time.perf_counter() - t
    assert out.kind == "poweroff", out.message
    return dt, m


def _virt(img, core, virt, paging):
    host = Host(frames_needed(MEM) * 4096)
    kw = {} if (virt, paging) == ("trap", "shadow") else {"virt": virt, "paging": paging}
    vm = host.add("g", img, mem_size=MEM, core=core, **kw)
    t = time.perf_counter()
    host.run()
    dt = time.perf_counter() - t
    assert vm.stop_kind == "poweroff", vm.reason
    return dt, vm


def refs_per_miss(core) -> float | None:
    """Memory references per TLB miss, from the core's counters (when it keeps them)."""
    cpus = getattr(core, "cpus", None) or [core]
    misses = sum(getattr(c, "tlb_misses", 0) for c in cpus)
    if not misses:
        return None
    return sum(c.walk_refs for c in cpus) / misses


REASONS = {"trap:1": "syscall", "trap:2": "brk", "trap:3": "privileged", "trap:5": "pf-read",
           "trap:6": "pf-write", "trap:7": "pf-fetch", "trap:16": "timer", "trap:17": "device",
           "io_in": "in", "io_out": "out", "halt": "halt", "wfi": "wfi"}


def exit_summary(vm) -> str:
    parts = []
    for k, v in sorted(vm.stats.exits.items(), key=lambda kv: -kv[1]):
        if k == "budget" or not v:
            continue
        parts.append(f"{REASONS.get(k, k)} {v:,}")
    return ", ".join(parts[:4]) or "none"


def pt_exits(vm) -> int:
    """Exits that exist only because of page tables: shadow fills, ptbr/PG writes and
    tlbflush that the hypervisor had to see."""
    s = vm.stats
    fills = vm.shadow.fills if getattr(vm, "shadow", None) is not None else 0
    return fills + s.emulated.get("tlbflush", 0) + getattr(s, "ptbr_exits", 0) + \
        s.emulated.get("mtcr_ptbr", 0)


def measure(core: str = "c", repeat: int = 3, workloads=None) -> list[dict]:
    rows = []
    for name in workloads or WORKLOADS:
        img = load_program(str(HERE / "workloads" / f"{name}.s"))
        tb, m = min((_bare(img, core) for _ in range(repeat)), key=lambda r: r[0])
        rows.append({"workload": name, "mode": "bare", "instructions": m.core.icount,
                     "seconds": tb, "slowdown": 1.0, "exits": "-", "pt_exits": 0,
                     "refs_per_miss": refs_per_miss(m.core), "hv_s": 0.0})
        for virt, paging in modes():
            th, vm = min((_virt(img, core, virt, paging) for _ in range(repeat)),
                         key=lambda r: r[0])
            assert vm.core.icount == m.core.icount and bytes(vm.output) == bytes(m.output), \
                f"{name}: {virt}+{paging} is not equivalent to the bare machine"
            rows.append({"workload": name, "mode": f"{virt}+{paging}",
                         "instructions": vm.core.icount, "seconds": th,
                         "slowdown": th / tb, "exits": exit_summary(vm),
                         "total_exits": sum(v for k, v in vm.stats.exits.items()
                                            if k != "budget"),
                         "pt_exits": pt_exits(vm), "refs_per_miss": refs_per_miss(vm.core),
                         "hv_s": vm.stats.hv_time})
    return rows


def table_rows(rows) -> list[list[str]]:
    out = []
    for r in rows:
        rpm = r["refs_per_miss"]
        out.append([r["workload"], r["mode"], f"{r['instructions']:,}",
                    f"{r['seconds'] * 1e3:.1f}", f"{r['hv_s'] * 1e3:.1f}",
                    f"{r['slowdown']:.2f}×", r["exits"], f"{r['pt_exits']:,}",
                    "-" if rpm is None else f"{rpm:.2f}"])
    return out


COLUMNS = ["workload", "mode", "instructions", "host ms", "in hypervisor ms",
           "slowdown vs bare", "exits by reason", "page-table exits", "refs per TLB miss"]
