"""Hypervisor benchmarks, each measured side by side in one run (bare vs virtualized).

- the cost of one trap-and-emulate round trip (privileged instruction → Python → resume)
- the cost of one reflected guest syscall (sys → reflect → guest handler → iret)
- each sample guest's slowdown, virtualized vs bare
- many small guests: aggregate throughput vs one guest, cost of a guest switch, memory
"""
from __future__ import annotations

import time
from pathlib import Path

from asm.assembler import assemble
from asm.loader import load_program
from hypervisor.host import Host, frames_needed
from hypervisor.runner import run_image

ROOT = Path(__file__).resolve().parent.parent

TRAP_LOOP = """
    li r2, {n}
    li r3, 0
loop:
    {insn}
    sub r2, r2, 1
    bne r2, r3, loop
    halt
"""

SYSCALL_LOOP = """
.entry boot
boot:
    li   r1, handler
    mtcr evec, r1
    li   r1, 1
    mtcr status, r1
    li   r1, user
    mtcr epc, r1
    iret
handler:
    mfcr r9, cause
    li   r8, 1
    bne  r9, r8, done
    iret
done:
    halt
user:
    li r2, {n}
    li r3, 0
loop:
    {insn}
    sub r2, r2, 1
    bne r2, r3, loop
    brk
"""

COMPUTE = """
    li r2, {n}
    li r3, 0
    li r4, 0
loop:
    add r4, r4, r2
    xor r4, r4, 0x5a5a
    sub r2, r2, 1
    bne r2, r3, loop
    halt
"""


def _bare(img, core="c", mem=65536):
    r = run_image(img, core, "bare", mem_size=mem, max_steps=None)
    assert r.kind == "poweroff", r.reason
    return r.seconds, r.icount


def _hv(img, core="c", mem=65536, virt="trap", paging="shadow"):
    r = run_image(img, core, "hv", mem_size=mem, max_steps=None, virt=virt, paging=paging)
    assert r.kind == "poweroff", r.reason
    return r.seconds, r.icount, r.vm


def _best(f, repeat):
    return min((f() for _ in range(repeat)), key=lambda r: r[0])


def trap_costs(n: int = 100_000, repeat: int = 3, core: str = "c") -> dict:
    """ns per trap round trip, from the time difference between a loop that traps once per
    iteration and the same loop with a nop, both virtualized."""
    base = assemble(TRAP_LOOP.format(n=n, insn="nop"), "<nop>")
    trap = assemble(TRAP_LOOP.format(n=n, insn="mfcr r1, scratch"), "<mfcr>")
    t_base = _best(lambda: _hv(base, core), repeat)[0]
    t_trap = _best(lambda: _hv(trap, core), repeat)[0]
    per_emulate = (t_trap - t_base) / n
    sbase = assemble(SYSCALL_LOOP.format(n=n, insn="nop"), "<nop>")
    ssys = assemble(SYSCALL_LOOP.format(n=n, insn="sys 1"), "<sys>")
    s_base = _best(lambda: _hv(sbase, core), repeat)[0]
    s_sys = _best(lambda: _hv(ssys, core), repeat)[0]
    per_syscall = (s_sys - s_base) / n
    # guest instruction time on the bare native core, to express the costs in instructions
    comp = assemble(COMPUTE.format(n=2_000_000), "<compute>")
    t, icount = _best(lambda: _bare(comp, core), repeat)
    ns_per_insn = t / icount * 1e9
    return {"emulate_ns": per_emulate * 1e9, "syscall_ns": per_syscall * 1e9,
            "ns_per_guest_insn": ns_per_insn,
            "emulate_insns": per_emulate * 1e9 / ns_per_insn,
            "syscall_insns": per_syscall * 1e9 / ns_per_insn}


def slowdowns(repeat: int = 3, core: str = "c") -> list[dict]:
    rows = []
    guests = [("compute loop", assemble(COMPUTE.format(n=2_000_000), "<compute>"), 65536)]
    for name, mem in (("hello.s", 65536), ("fib.s", 65536), ("sieve.s", 65536),
                      ("kernel.s", 65536)):
        guests.append((name, load_program(str(ROOT / "guests" / name)), mem))
    for name, img, mem in guests:
        tb, ib = _best(lambda: _bare(img, core, mem), repeat)
        th, ih, vm = _best(lambda: _hv(img, core, mem), repeat)
        emulated = sum(vm.stats.emulated.values())
        rows.append({"guest": name, "instructions": ib, "bare_s": tb, "hv_s": th,
                     "speed_ratio": tb / th, "efficiency": (ih - emulated) / ih,
                     "exits": sum(v for k, v in vm.stats.exits.items() if k != "budget")})
    return rows


def many_guests(counts=(1, 10, 100, 1000), per_guest: int = 200_000, slice_: int = 10_000,
                core: str = "c") -> list[dict]:
    """Aggregate throughput of n guests vs one guest doing the same work per guest."""
    img = assemble(COMPUTE.format(n=per_guest // 4), "<compute>")
    rows = []
    for n in counts:
        dt, total, slices = _many(img, n, slice_, core)
        rows.append({"guests": n, "instructions": total, "seconds": dt, "ips": total / dt,
                     "slices": slices, "pool_bytes_per_guest": frames_needed(65536) * 4096})
    one = rows[0]
    for r in rows:
        r["relative"] = r["ips"] / one["ips"]
    return rows


def _many(img, n, slice_, core):
    host = Host(n * frames_needed(65536) * 4096)
    vms = [host.add(f"g{i}", img, mem_size=65536, core=core) for i in range(n)]
    t = time.perf_counter()
    host.run(slice_=slice_)
    dt = time.perf_counter() - t
    assert all(vm.stop_kind == "poweroff" for vm in vms)
    return dt, sum(vm.core.icount for vm in vms), sum(vm.stats.slices for vm in vms)


def switch_cost(n: int = 100, per_guest: int = 400_000, core: str = "c") -> float:
    """ns per guest switch: the same work in slices of 1,000 and of 100,000 instructions;
    the extra time divided by the extra slices."""
    img = assemble(COMPUTE.format(n=per_guest // 4), "<compute>")
    t_small, _, s_small = min((_many(img, n, 1_000, core) for _ in range(3)), key=lambda r: r[0])
    t_big, _, s_big = min((_many(img, n, 100_000, core) for _ in range(3)), key=lambda r: r[0])
    return (t_small - t_big) / (s_small - s_big) * 1e9


def host_threads(guests: int = 4, per_guest: int = 50_000_000, core: str = "c") -> list[dict]:
    """Aggregate instruction rate of `guests` compute-bound guests on 1 host thread and on
    one per host CPU (hv boot --host-threads)."""
    import os
    img = assemble(COMPUTE.format(n=per_guest // 4), "<compute>")
    rows = []
    for threads in sorted({1, os.cpu_count() or 1}):
        best = None
        for _ in range(3):
            host = Host(guests * frames_needed(65536) * 4096, host_threads=threads)
            vms = [host.add(f"g{i}", img, mem_size=65536, core=core) for i in range(guests)]
            t = time.perf_counter()
            host.run()
            dt = time.perf_counter() - t
            assert all(vm.stop_kind == "poweroff" for vm in vms)
            best = dt if best is None else min(best, dt)
        total = sum(vm.core.icount for vm in vms)
        rows.append({"threads": threads, "instructions": total, "seconds": best,
                     "ips": total / best})
    for r in rows:
        r["relative"] = r["ips"] / rows[0]["ips"]
    return rows


def mode_costs(n: int = 100_000, repeat: int = 3, core: str = "c") -> list[dict]:
    """Per mode: ns per privileged instruction in the guest kernel (mfcr) and per system call
    (sys -> evec -> mfcr, iret), from the same loops as trap_costs."""
    from hypervisor.vm import MODES
    loops = {"mfcr": (assemble(TRAP_LOOP.format(n=n, insn="nop"), "<nop>"),
                      assemble(TRAP_LOOP.format(n=n, insn="mfcr r1, scratch"), "<mfcr>")),
             "syscall": (assemble(SYSCALL_LOOP.format(n=n, insn="nop"), "<nop>"),
                         assemble(SYSCALL_LOOP.format(n=n, insn="sys 1"), "<sys>"))}
    rows = []
    for virt, paging in MODES:
        row = {"mode": f"{virt}+{paging}"}
        for name, (base, test) in loops.items():
            t0 = _best(lambda: _hv(base, core, virt=virt, paging=paging), repeat)[0]
            t1, _, vm = _best(lambda: _hv(test, core, virt=virt, paging=paging), repeat)
            row[name + "_ns"] = max(0.0, (t1 - t0) / n * 1e9)
            row[name + "_exits"] = sum(v for k, v in vm.stats.exits.items() if k != "budget")
        rows.append(row)
    return rows
