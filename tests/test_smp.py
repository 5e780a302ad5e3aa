"""Brief §11 (several CPUs): `xchg`, `cpuid`/`icount`, inter-processor interrupts, the
interrupt priority rule. Every test runs on both cores (the `make` fixture) with explicit
expected values."""
from __future__ import annotations

from pathlib import Path

import pytest

from vcpu.exits import VMExit
from vcpu.isa import INSTRUCTIONS, Cause, Exit, encode

M32 = 0xFFFF_FFFF
ROOT = Path(__file__).resolve().parent.parent
NAMES = {i.name: i for i in INSTRUCTIONS}
KM, IE, PG, PKM, PIE = 1, 2, 4, 8, 16
ST, EV, EPC, CAU, BAD, PTBR, SCR, CPUID, ICOUNT = range(9)


def E(name: str, **f) -> bytes:
    return encode(NAMES[name], **f)


def prog(*parts: bytes) -> bytes:
    return b"".join(parts)


def li(r: int, v: int) -> bytes:
    return E("li", x=r, imm=v & M32)


HALT = E("halt")


def boot(make, code: bytes, *, mem_size: int = 65536, status: int = KM, evec: int = 0x800):
    core = make(mem_size)
    core.mem[:len(code)] = code
    core.regs[15] = mem_size & M32
    core.cr[ST] = status
    core.cr[EV] = evec
    return core


def word(core, addr: int) -> int:
    return int.from_bytes(core.mem[addr:addr + 4], "little")


# --- xchg ----------------------------------------------------------------------------------

def test_xchg_swaps_register_and_word(make):
    core = boot(make, prog(li(1, 0x11223344), li(2, 0x1000), E("xchg", x=1, y=2, imm=4),
                           E("xchg", x=3, y=2, imm=(-4) & M32), HALT))
    core.mem[0x1004:0x1008] = (0xCAFEBABE).to_bytes(4, "little")
    core.mem[0x0FFC:0x1000] = (7).to_bytes(4, "little")
    core.regs[3] = 9
    assert core.run(100).reason == Exit.HALT
    assert core.regs[1] == 0xCAFEBABE and word(core, 0x1004) == 0x11223344
    assert core.regs[3] == 7 and word(core, 0x0FFC) == 9
    assert core.icount == 5


def test_xchg_same_register_as_base_and_unaligned(make):
    # rd = ra: the address is taken before the swap
    core = boot(make, prog(li(1, 0x2001), E("xchg", x=1, y=1, imm=0), HALT))
    core.mem[0x2001:0x2005] = bytes((1, 2, 3, 4))
    assert core.run(10).reason == Exit.HALT
    assert core.regs[1] == 0x04030201 and word(core, 0x2001) == 0x2001


def test_xchg_faults_like_a_store(make):
    # outside memory, paging off: cause 6 (a store's), nothing changes
    ms = 8192
    core = boot(make, prog(li(1, 5), li(2, ms - 2), E("xchg", x=1, y=2, imm=0), HALT),
                mem_size=ms, evec=0x100)
    core.mem[0x100] = NAMES["halt"].opcode
    core.mem[ms - 2:ms] = b"\xAA\xBB"
    assert core.run(10).reason == Exit.HALT
    assert core.cr[CAU] == Cause.PAGE_FAULT_WRITE and core.cr[BAD] == ms
    assert core.cr[EPC] == 12 and core.regs[1] == 5 and core.mem[ms - 2:ms] == b"\xAA\xBB"


def paged(make, rights: int):
    """Identity map of the first 4 pages; page 3 (0x3000) gets `rights`."""
    core = make(65536)
    for i, r in enumerate((7, 7, 7, rights)):
        core.mem[0x2000 + 4 * i:0x2004 + 4 * i] = (i * 4096 | r).to_bytes(4, "little")
    core.mem[0x1000:0x1004] = (0x2000 | 7).to_bytes(4, "little")
    core.cr[PTBR] = 0x1000
    core.cr[EV] = 0x800
    core.mem[0x800] = NAMES["halt"].opcode
    return core


@pytest.mark.parametrize("rights,mode,cause", [
    (5, KM, Cause.PAGE_FAULT_WRITE),     # read-only page: a store's fault, even in kernel mode
    (3, 0, Cause.PAGE_FAULT_WRITE),      # kernel page from user mode
    (0, KM, Cause.PAGE_FAULT_WRITE),     # not present: still cause 6, not 5
    (7, 0, None),                        # user, writable: swaps
])
def test_xchg_rights(make, rights, mode, cause):
    core = paged(make, rights)
    core.mem[0:12] = prog(li(2, 0x3010), E("xchg", x=1, y=2, imm=0))
    core.mem[12] = NAMES["jmp_r"].opcode
    core.mem[13] = 0x40                              # jmp r4 -> halt in kernel mode
    core.regs[1] = 77
    core.regs[4] = 0x800
    core.mem[0x3010:0x3014] = (5).to_bytes(4, "little")
    core.cr[ST] = PG | mode
    ex = core.run(20)
    if cause is None:
        # user mode: the jmp to a halt then faults (privileged) into the handler, which halts
        assert ex.reason == Exit.HALT and core.regs[1] == 5 and word(core, 0x3010) == 77
    else:
        assert ex.reason == Exit.HALT and core.cr[CAU] == cause and core.cr[BAD] == 0x3010
        assert core.cr[EPC] == 6 and core.regs[1] == 77 and word(core, 0x3010) == 5


def test_xchg_straddling_pages_checks_both(make):
    core = paged(make, 5)                            # page 3 read-only
    core.mem[0:12] = prog(li(2, 0x2FFE), E("xchg", x=1, y=2, imm=0))
    core.cr[ST] = PG | KM
    before = bytes(core.mem[0x2FFE:0x3002])
    core.run(5)
    assert core.cr[CAU] == Cause.PAGE_FAULT_WRITE and core.cr[BAD] == 0x3000
    assert bytes(core.mem[0x2FFE:0x3002]) == before


def test_xchg_is_unprivileged(make):
    core = boot(make, prog(li(2, 0x1000), E("xchg", x=1, y=2, imm=0), E("brk")), status=0)
    core.regs[1] = 3
    core.mem[0x800] = NAMES["halt"].opcode
    assert core.run(10).reason == Exit.HALT
    assert core.cr[CAU] == Cause.BREAKPOINT and word(core, 0x1000) == 3


# --- cpuid, icount ---------------------------------------------------------------------------

def test_cpuid_and_icount_are_read_only(make):
    code = prog(E("nop"), E("nop"), E("mfcr", x=1, y=ICOUNT), E("mfcr", x=2, y=CPUID),
                li(3, 1234), E("mtcr", x=ICOUNT, y=3), E("mtcr", x=CPUID, y=3),
                E("mfcr", x=4, y=ICOUNT), E("mfcr", x=5, y=CPUID), HALT)
    core = boot(make, code)
    assert core.run(100).reason == Exit.HALT
    assert core.regs[1] == 2                 # two instructions retired before this one
    assert core.regs[2] == 0 and core.regs[5] == 0
    assert core.regs[4] == 7 and core.icount == 10
    assert len(core.cr) == 7                 # the stored control registers only


def test_icount_is_the_low_32_bits(make):
    core = boot(make, prog(E("mfcr", x=1, y=ICOUNT), HALT))
    core.icount = (5 << 32) + 0xFFFF_FFFF
    assert core.run(10).reason == Exit.HALT and core.regs[1] == M32


def test_mfcr_cpuid_stays_privileged(make):
    core = boot(make, prog(E("mfcr", x=1, y=CPUID)), status=0)
    core.mem[0x800] = NAMES["halt"].opcode
    assert core.run(10).reason == Exit.HALT and core.cr[CAU] == Cause.PRIVILEGED


# --- interrupts: the IPI cause and the priority rule -------------------------------------------

def test_lowest_cause_first(make):
    # every interrupt pending at once: timer (16), device (17), IPI (18) in that order
    handler = prog(E("mfcr", x=13, y=CAU), E("st", x=13, y=12, imm=0),
                   E("mfcr", x=13, y=BAD), E("st", x=13, y=12, imm=4),
                   E("add_i", x=12, y=12, imm=8), E("iret"))
    code = prog(li(12, 0x1000), E("sti"), E("nop"), E("nop"), E("nop"), HALT)
    core = boot(make, code)
    core.mem[0x800:0x800 + len(handler)] = handler
    core.raise_irq(1 | 2)
    core.receive_ipi(5)
    core.receive_ipi(6)                      # at most one IPI pending: the first sender stays
    assert core.pending == 7 and core.ipi_from == 5
    assert core.run(100).reason == Exit.HALT
    got = [word(core, 0x1000 + 4 * i) for i in range(6)]
    assert got == [16, 0, 17, 0, 18, 5]
    assert core.pending == 0


def test_ipi_wakes_wfi_with_interrupts_off(make):
    core = boot(make, prog(E("wfi"), li(1, 42), HALT))
    core.receive_ipi(0)
    assert core.run(10).reason == Exit.HALT
    assert core.regs[1] == 42 and core.pending == 4      # IE = 0: it stays pending


def test_ipi_to_host_trap(make):
    core = boot(make, prog(E("sti"), E("nop"), HALT))
    core.host_traps = 1 << Cause.IPI
    core.receive_ipi(3)
    ex = core.run(10)
    assert ex == VMExit(Exit.TRAP, cause=Cause.IPI, epc=1, badaddr=3)


# --- the machine: `out 0x21` --------------------------------------------------------------------

IPI_SELF = """
.entry start
start:
    li   r1, handler
    mtcr evec, r1
    li   r2, 5
    out  0x21, r2               ; no CPU 5: ignored
    li   r2, 0
    out  0x21, r2               ; to itself (CPU 0)
    mfcr r3, icount
    sti                         ; delivered at the next boundary
    nop
    halt
handler:
    mfcr r4, cause
    mfcr r5, badaddr
    mfcr r6, epc
    halt
"""


@pytest.mark.parametrize("mode", ["bare", "hv"])
def test_ipi_port_one_cpu(core_kind, mode):
    from asm.assembler import assemble

    from .runners import run_image
    image = assemble(IPI_SELF, "<test>")
    r = run_image(image, core_kind, mode, max_steps=1000)
    nop = next(s.value for s in image.symbols if s.name == "handler") - 2
    assert r.kind == "poweroff", r.reason
    assert r.regs[3:7] == [6, 18, 0, nop]


# --- several CPUs: turns, boot, waiting, the all-waiting stop --------------------------------

def smp(make_core_kind, code: bytes, cpus: int, quantum: int, **kw):
    from vcpu.cores import make_core
    core = make_core(make_core_kind, mem_size=kw.get("mem_size", 65536), cpus=cpus,
                     quantum=quantum)
    core.mem[:len(code)] = code
    for c in core.cpus:
        c.regs[15] = core.mem_size
        c.cr[ST] = KM
        c.cr[EV] = 0x800
    return core


def test_turns_are_round_robin_in_quantum_slots(core_kind):
    loop = prog(E("nop"), E("jmp_i", imm=0))
    core = smp(core_kind, loop, 3, 5)
    assert core.run(12).reason == Exit.BUDGET
    assert [c.icount for c in core.cpus] == [5, 5, 2] and core.cur == 2
    core.run(3)
    assert [c.icount for c in core.cpus] == [5, 5, 5]
    ex = core.run(1)
    assert [c.icount for c in core.cpus] == [6, 5, 5] and core.cur == 0 and ex.cpu == 0
    assert core.slots == 16


def test_one_cpu_has_no_turns(core_kind):
    core = smp(core_kind, prog(E("nop"), E("jmp_i", imm=0)), 1, 3)
    core.run(100)
    assert core.icount == 100 and core.turn_end == (1 << 64) - 1


def test_exit_names_its_cpu_and_the_current_cpu_is_its(core_kind):
    # every CPU: li r1, cpuid-dependent value; out 0x10
    code = prog(E("mfcr", x=1, y=CPUID), E("out", x=1, port=0x10), E("wfi"))
    core = smp(core_kind, code, 3, 10)
    seen = []
    for _ in range(3):
        ex = core.run(100)
        assert ex.reason == Exit.IO_OUT
        seen.append((ex.cpu, ex.value, core.cur, core.regs[1]))
    assert seen == [(0, 0, 0, 0), (1, 1, 1, 1), (2, 2, 2, 2)]
    assert core.run(1000) == VMExit(Exit.WFI, cpu=2)      # all wait, nothing can wake them


def test_waiting_cpu_passes_idle_slots_and_wakes_on_ipi(core_kind):
    # CPU 1 waits (IE = 0); CPU 0 works 20 instructions then sends it an IPI
    code = prog(E("mfcr", x=1, y=CPUID), E("bne", x=1, y=0, imm=0x40),
                li(2, 20), E("sub_i", x=2, y=2, imm=1), E("bne", x=2, y=0, imm=14),
                li(3, 1), E("out", x=3, port=0x21), HALT)
    code = code + bytes(0x40 - len(code)) + prog(E("wfi"), li(5, 77), E("wfi"))
    core = smp(core_kind, code, 2, 4)
    core.cpus[0].regs[0] = 0
    ex = core.run(10_000)
    assert ex.reason == Exit.IO_OUT and ex.cpu == 0 and ex.port == 0x21
    core.send_ipi(ex.value)
    assert core.cpus[1].waiting and core.cpus[1].idle > 0
    ex = core.run(10_000)
    assert ex == VMExit(Exit.HALT, cpu=0) or ex.reason == Exit.HALT
    # CPU 1 woke in its next turn, ran li, and waits again: its IPI stays pending (IE = 0)
    c1 = core.cpus[1]
    assert c1.regs[5] == 77 or c1.pending == 4


def test_all_waiting_stop_needs_every_cpu(core_kind):
    # Both CPUs wait; CPU 1 has a timer (IE = 0: it wakes, loops, waits again). CPU 0
    # waits forever, but the machine does not stop: CPU 1 could still send it an IPI.
    core = smp(core_kind, prog(E("wfi"), E("jmp_i", imm=0)), 2, 5)
    core.cpus[1].set_timer(3)
    ex = core.run(500)
    assert ex.reason == Exit.BUDGET and core.cpus[0].waiting and core.cpus[0].idle > 200
    assert core.slots == 500
    # with the timer off, nothing could wake either: the machine stops
    core.cpus[1].timer_period = 0
    core.cpus[1].pending = 0
    ex = core.run(500)
    assert ex.reason == Exit.WFI


def test_ipi_to_a_cpu_that_does_not_exist_is_ignored(core_kind):
    core = smp(core_kind, prog(E("nop")), 2, 5)
    core.send_ipi(2)
    core.send_ipi(0xFFFF_FFFF)
    assert [c.pending for c in core.cpus] == [0, 0]
    core.send_ipi(1)
    assert core.cpus[1].pending == 4 and core.cpus[1].ipi_from == 0


def test_state_round_trip_between_cores():
    from vcpu.cores import make_core, native_available
    if not native_available():
        pytest.skip("the native core is not built")
    code = prog(E("mfcr", x=1, y=CPUID), E("add_i", x=2, y=2, imm=1), E("jmp_i", imm=2))
    a = smp("c", code, 3, 7)
    a.run(50)
    b = make_core("py", mem_size=a.mem_size, cpus=3, quantum=7)
    b.mem[:] = a.mem
    b.set_state(a.get_state())
    assert b.get_state() == a.get_state()
    a.run(101)
    b.run(101)
    assert b.get_state() == a.get_state()
    with pytest.raises(ValueError):
        make_core("py", cpus=17)
    with pytest.raises(ValueError):
        b.set_state(make_core("py", cpus=2).get_state())


# --- whole machines: bare = virtualized, quanta, both cores ------------------------------------

LOCKED_COUNTER = """
; each CPU adds ROUNDS to a counter under an xchg spinlock; CPU 0 waits for all of them
; and powers off with the counter (its result must not depend on the interleaving)
.entry start
.equ N, {n}
.equ ROUNDS, 50
start:
    mfcr r1, cpuid
    li   r5, ROUNDS
loop:
    li   r2, 1
spin:
    xchg r2, [r0 + lock]
    bne  r2, r0, spin
    ld   r3, [r0 + count]
    add  r3, r3, 1
    st   r3, [r0 + count]
    st   r0, [r0 + lock]
    sub  r5, r5, 1
    bne  r5, r0, loop
    li   r2, 1
spin2:
    xchg r2, [r0 + lock]
    bne  r2, r0, spin2
    ld   r3, [r0 + done]
    add  r3, r3, 1
    st   r3, [r0 + done]
    st   r0, [r0 + lock]
    bne  r1, r0, park
    li   r4, N
wait:
    ld   r3, [r0 + done]
    bne  r3, r4, wait
    ld   r1, [r0 + count]
    out  0xFF, r1
park:
    wfi
    jmp park
lock: .word 0
count: .word 0
done: .word 0
"""


@pytest.mark.parametrize("n", [1, 2, 4])
def test_locked_counter_same_for_every_quantum_bare_and_virtualized(core_kind, n):
    from asm.assembler import assemble

    from .runners import run_image
    image = assemble(LOCKED_COUNTER.format(n=n), "<test>")
    by_quantum = {}
    for q in (1, 7, 1000):
        bare = run_image(image, core_kind, "bare", cpus=n, quantum=q, max_steps=2_000_000)
        hv = run_image(image, core_kind, "hv", cpus=n, quantum=q, max_steps=2_000_000)
        assert bare.kind == hv.kind == "poweroff", (bare.reason, hv.reason)
        assert bare.status == hv.status == 50 * n
        # the same interleaving: the same machine clock and the same registers at the end
        assert (bare.icount, bare.regs, bare.pc) == (hv.icount, hv.regs, hv.pc)
        by_quantum[q] = bare.icount
    if n > 1:
        assert len(set(by_quantum.values())) > 1      # the interleavings did differ


def test_smp_runs_identical_on_both_cores():
    from asm.assembler import assemble

    from vcpu.cores import native_available

    from .runners import run_image
    if not native_available():
        pytest.skip("the native core is not built")
    image = assemble(LOCKED_COUNTER.format(n=3), "<test>")
    for mode in ("bare", "hv"):
        a = run_image(image, "c", mode, cpus=3, quantum=7)
        b = run_image(image, "py", mode, cpus=3, quantum=7)
        assert (a.kind, a.status, a.icount, a.regs, a.pc) == (b.kind, b.status, b.icount,
                                                              b.regs, b.pc)


def test_smp_lockstep_program():
    from asm.assembler import assemble

    from vcpu.cores import native_available
    from vcpu.lockstep import lockstep
    if not native_available():
        pytest.skip("the native core is not built")
    image = assemble(LOCKED_COUNTER.format(n=3), "<test>")
    for q, budget in ((1, 1), (5, 1), (1000, 37)):
        res = lockstep(image, 200_000, cpus=3, quantum=q, budget=budget)
        assert res.ok, res.describe()
        assert res.stop == "power off (150)"


# --- lockstep: random SMP machines on both cores -------------------------------------------

def smp_machine(r):
    """A random machine of the lockstep fuzzer (tests/test_lockstep.py), run by 2..4 CPUs
    that start at nearby pcs with their own registers, pending interrupts, timers and
    waiting states, in turns of a random quantum. The random code has xchg and `out 0x21`
    (IPIs; the registers are biased to small values, so some name a CPU that exists)."""
    from .test_lockstep import machine
    ms, mem, state, steps, budget = machine(r)
    n = r.int(2, 4)
    q = r.choice((1, 1, 2, 3, 7, 50, 1000))
    cpus = []
    for k in range(n):
        s = dict(state)
        s["regs"] = [v if r.int(0, 3) else r.int(0, n) for v in state["regs"]]
        s["pc"] = (state["pc"] + (0 if k == 0 or r.int(0, 1) else r.int(0, 30))) % ms
        s["pending"] = r.int(0, 7) if r.int(0, 3) == 0 else 0
        s["ipi_from"] = r.int(0, n - 1)
        s["waiting"] = r.int(0, 5) == 0
        s["tlb"] = list(state["tlb"])
        cpus.append(s)
    sched = {"cpus": cpus, "cur": r.int(0, n - 1), "turn_end": state["icount"] + q, "quantum": q}
    return ms, mem, sched, n, q, steps, budget


@pytest.mark.parametrize("seed", range(30))
def test_lockstep_random_smp_machines(seed):
    import random

    from vcpu.cores import native_available
    from vcpu.lockstep import lockstep

    from .test_lockstep import RandomSource
    if not native_available():
        pytest.skip("the native core is not built")
    r = RandomSource(random.Random(7000 + seed))
    ms, mem, state, n, q, steps, budget = smp_machine(r)

    def setup(core):
        core.mem[:] = mem
        core.set_state(state)
    res = lockstep(setup, steps, mem_size=ms, mem_every=16, budget=budget, cpus=n, quantum=q)
    assert res.ok, res.describe() + f"\nmachine: cpus={n} quantum={q} budget={budget}"


# --- isolation: a hostile SMP guest beside a neighbour ---------------------------------------

HOSTILE_SMP = """
; four CPUs: CPU 0 floods IPIs at everyone (and at CPUs that do not exist), CPU 1 xchg's on
; unmapped pages and past memory with paging on, CPUs 2 and 3 spin on a lock nobody frees
.entry start
start:
    mfcr r1, cpuid
    li   r2, handler
    mtcr evec, r2
    sti                          ; take the IPIs: each one is a trap into the handler
    li   r2, 1
    beq  r1, r0, storm
    beq  r1, r2, bad_xchg
    li   r3, 1
    st   r3, [r0 + lock]
spin:
    li   r3, 1
    xchg r3, [r0 + lock]
    bne  r3, r0, spin
storm:
    li   r4, 0
storm_loop:
    out  0x21, r4
    add  r4, r4, 1
    and  r4, r4, 7
    jmp  storm_loop
bad_xchg:
    li   r5, 0x7F000000
    xchg r6, [r5]                ; outside memory (paging off): cause 6, skipped
    jmp  bad_xchg
handler:
    mfcr r7, cause
    li   r8, 18
    beq  r7, r8, handled         ; an IPI: nothing to do
    mfcr r7, epc
    add  r7, r7, 6               ; a fault: skip the xchg (a 6-byte instruction)
    mtcr epc, r7
handled:
    iret
lock: .word 0
"""


def test_hostile_smp_guest_does_not_change_its_neighbour(core_kind):
    from asm.assembler import assemble, assemble_file

    from hypervisor.host import Host, frames_needed
    from vcpu.devices import ConsoleInput

    from .runners import run_image
    fib = assemble_file(Path(__file__).resolve().parent.parent / "guests" / "fib.s")
    alone = run_image(fib, core_kind, "hv", max_steps=None)
    host = Host((frames_needed(65536) + frames_needed(65536, 4)) * 4096)
    bad = host.add("bad", assemble(HOSTILE_SMP, "<hostile>"), mem_size=65536, core=core_kind,
                   cpus=4, quantum=3, console_input=ConsoleInput(b""))
    good = host.add("fib", fib, mem_size=65536, core=core_kind,
                    console_input=ConsoleInput(b""))
    host.run(slice_=5_000, max_steps=200_000)
    assert good.stop_kind == "poweroff" and bytes(good.output) == alone.output
    assert good.core.icount == alone.icount
    assert bad.stop_kind == "max-steps"          # it ran its share, touching only itself
    assert bad.stats.injected[18] > 100 and bad.stats.reflected[6] > 100


# --- the command line ------------------------------------------------------------------------

def test_cli_all_waiting_stop_and_options(tmp_path):
    from .hvcli import hv
    f = tmp_path / "w.s"
    f.write_text("wfi\nhalt\n")
    for cmd in ("run", "boot"):
        r = hv(cmd, f, "--cpus", "3")
        assert r.returncode == 125 and "none would" in r.err and "wake" in r.err, r.err
        r = hv(cmd, f, "--cpus", "17")
        assert r.returncode == 2 and "at most 16" in r.err
        r = hv(cmd, f, "--quantum", "0")
        assert r.returncode == 2
    r = hv("boot", f"{f}:cpus=0")
    assert r.returncode == 2 and "cpus" in r.err
    r = hv("lockstep", ROOT / "guests" / "smp.s", "--cpus", "4", "--quantum", "3")
    assert r.returncode == 0 and "no divergence" in r.out, r.out + r.err


def test_cli_smp_guest_trace_and_stats(tmp_path):
    import json

    from .hvcli import hv
    jl, pf = tmp_path / "t.jsonl", tmp_path / "t.json"
    r = hv("boot", ROOT / "guests" / "shootdown.s", "--cpus", "2", "--trace", jl, "--stats")
    assert r.returncode == 0, r.err
    assert "vCPU  1 exits" in r.out + r.err
    events = [json.loads(line) for line in jl.read_text().splitlines()]
    cpus = {e.get("cpu") for e in events if e["kind"] != "schedule"}
    assert cpus == {0, 1}
    assert any(e["kind"] == "inject" and e.get("cpu") == 1 for e in events)
    r = hv("boot", ROOT / "guests" / "shootdown.s", "--cpus", "2", "--trace", pf)
    trace = json.loads(pf.read_text())["traceEvents"]
    assert any(e.get("name") == "thread_name" and e["args"]["name"] == "hypervisor, vCPU 1"
               for e in trace)
    # one CPU: no cpu field at all (traces of one-CPU guests are unchanged)
    r = hv("boot", ROOT / "guests" / "hello.s", "--trace", jl)
    assert all("cpu" not in json.loads(line) for line in jl.read_text().splitlines())


def test_cli_guest_tests_on_several_cpus(tmp_path):
    from .hvcli import hv
    f = tmp_path / "test_cpus.s"
    f.write_text(""".entry main
main:
    mfcr r1, cpuid
    bne  r1, r0, park          ; CPUs 1.. wait; CPU 0 reports
    li   r1, 3
    out  0x21, r1              ; an IPI to CPU 3 exists only with 4 CPUs: harmless either way
    li   r1, msg
p:  ldb  r2, [r1]
    beq  r2, r0, done
    out  0x10, r2
    add  r1, r1, 1
    jmp  p
done:
    halt
park:
    wfi
    jmp  park
msg: .asciz "1..1\\nok 1 - cpu 0 reports\\n"
""")
    r = hv("test", f, "--cpus", "4", "--quantum", "5")
    assert r.returncode == 0 and "4 passed" in r.out, r.out + r.err


def test_smp_machine_moves_between_cores_mid_run():
    """get_state/set_state carry every CPU and the turn in progress: a run that changes
    cores in the middle of a turn prints exactly what the uninterrupted run prints."""
    from .hvcli import hv
    from vcpu.cores import native_available
    if not native_available():
        pytest.skip("the native core is not built")
    smp_s = ROOT / "guests" / "smp.s"
    whole = hv("run", smp_s, "--cpus", "4", "--quantum", "7")
    for core, at in (("c", "40003"), ("py", "1001")):
        moved = hv("run", smp_s, "--cpus", "4", "--quantum", "7", "--core", core,
                   "--switch-core-at", at)
        assert (moved.returncode, moved.out) == (whole.returncode, whole.out), moved.err
