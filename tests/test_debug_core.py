"""Breakpoints and watchpoints inside the cores (`set_debug`, vcpu/refcore.py's docstring):
what a debugger's full-speed searches are built on. Each case runs on both cores; the
exits, positions and states must be exactly the ones stated here."""
from __future__ import annotations

import pytest

from asm.assembler import assemble
from vcpu.cores import make_core
from vcpu.isa import CR, MAX_BREAKPOINTS, WATCH_READ, WATCH_WRITE, Exit, Status

ST, EV, PTBR = int(CR.status), int(CR.evec), int(CR.ptbr)
KM, IE, PG = int(Status.KM), int(Status.IE), int(Status.PG)
RW = WATCH_READ | WATCH_WRITE

LOOP = """
start:
    li   r1, 0
    li   r2, 0x800
loop:
    add  r1, r1, 1          ; 0x0c
    st   r1, [r2]           ; 0x12
    ld   r3, [r2 + 4]       ; 0x18
    call sub                ; 0x1e
    blt  r1, r2, loop       ; 0x23
    halt
sub:
    push r1                 ; 0x2a
    xchg r3, [r2 + 8]       ; 0x2c
    pop  r1                 ; 0x32
    ret                     ; 0x34
"""


def machine(kind, source=LOOP, cpus=1, quantum=4):
    image = assemble(source, "<t>")
    core = make_core(kind, mem_size=65536, cpus=cpus, quantum=quantum)
    for addr, data in image.segments:
        core.mem[addr:addr + len(data)] = data
    for c in core.cpus:
        c.cr[ST] = KM
        c.regs[15] = 0x4000 - 0x100 * c.cpuid
    return core, {s.name: s.value for s in image.symbols}


def test_addresses_of_the_program(core_kind):
    _, sym = machine(core_kind)
    assert sym["loop"] == 0x0C and sym["sub"] == 0x2A


def test_breakpoint_exits_before_the_instruction_and_run_resumes_past_it(core_kind):
    core, _ = machine(core_kind)
    core.set_debug(breakpoints=[0x1E])
    ex = core.run(1000)
    assert ex.reason == Exit.BREAK and ex.epc == 0x1E and core.pc == 0x1E
    assert core.icount == 5                 # li, li, add, st, ld: the call has not run
    assert core.regs[1] == 1
    ex = core.run(1000)                      # the boundary a run starts at is not checked
    assert ex.reason == Exit.BREAK and core.pc == 0x1E and core.icount == 5 + 9
    assert core.regs[1] == 2


def test_breakpoint_comes_before_the_budget(core_kind):
    core, _ = machine(core_kind)
    core.set_debug(breakpoints=[0x0C])
    ex = core.run(2)                         # li, li reach loop: BREAK, not BUDGET
    assert ex.reason == Exit.BREAK and core.icount == 2
    ex = core.run(0)
    assert ex.reason == Exit.BUDGET and core.icount == 2


def test_breakpoint_on_a_jump_target_and_after_a_call(core_kind):
    core, _ = machine(core_kind)
    core.set_debug(breakpoints=[0x2A, 0x23])
    seen = []
    for _ in range(4):
        ex = core.run(1000)
        assert ex.reason == Exit.BREAK
        seen.append((core.pc, core.icount))
    assert seen == [(0x2A, 6), (0x23, 10), (0x2A, 15), (0x23, 19)]


def test_no_debug_settings_no_exits(core_kind):
    core, _ = machine(core_kind)
    core.set_debug(breakpoints=[0x1E], watchpoints=[(0x800, 4, RW)])
    core.set_debug()
    ex = core.run(100_000)
    assert ex.reason == Exit.HALT


def test_too_many_breakpoints_is_refused(core_kind):
    core, _ = machine(core_kind)
    with pytest.raises(ValueError):
        core.set_debug(breakpoints=range(MAX_BREAKPOINTS + 1))
    with pytest.raises(ValueError):
        core.set_debug(watchpoints=[(0x800, 0, RW)])


@pytest.mark.parametrize("mask, at", [
    (WATCH_WRITE, [(0x12, 3, 0x800, WATCH_WRITE)]),
    (WATCH_READ, [(0x18, 4, 0x804, WATCH_READ)]),
])
def test_watch_exits_before_the_access(core_kind, mask, at):
    core, _ = machine(core_kind)
    lo = 0x800 if mask == WATCH_WRITE else 0x806      # overlap by one byte is enough
    core.set_debug(watchpoints=[(lo, 1, mask)])
    ex = core.run(1000)
    pc, icount, addr, kind = at[0]
    assert ex.reason == Exit.WATCH
    assert (ex.epc, core.pc, core.icount, ex.badaddr, ex.cause) == (pc, pc, icount, addr, kind)
    # nothing of the instruction happened (the load's register; the store's memory)
    assert core.regs[3] == 0
    assert core.mem[0x800] == (0 if mask == WATCH_WRITE else 1)
    # stepping over it: the host clears the watchpoints for one instruction
    core.set_debug()
    assert core.run(1).reason == Exit.BUDGET and core.icount == icount + 1


def test_watch_sees_push_call_xchg_pop_ret(core_kind):
    core, _ = machine(core_kind)
    sp = core.regs[15]
    core.set_debug(watchpoints=[(sp - 8, 8, RW), (0x808, 4, WATCH_READ)])
    seen = []
    while len(seen) < 5:
        ex = core.run(1000)
        assert ex.reason == Exit.WATCH
        seen.append((core.pc, ex.badaddr, ex.cause))
        regs = list(core.regs)
        core.set_debug()
        core.run(1)
        core.set_debug(watchpoints=[(sp - 8, 8, RW), (0x808, 4, WATCH_READ)])
        assert list(core.regs) != regs or core.pc != seen[-1][0]
    assert seen == [(0x1E, sp - 4, WATCH_WRITE),          # call: the return address
                    (0x2A, sp - 8, WATCH_WRITE),          # push r1
                    (0x2C, 0x808, RW),                    # xchg reads and writes
                    (0x32, sp - 8, WATCH_READ),           # pop
                    (0x34, sp - 4, WATCH_READ)]           # ret


def test_a_faulting_access_faults_instead(core_kind):
    core, _ = machine(core_kind, "start:\n li r2, 0x20000\n ld r1, [r2]\n halt\n")
    core.host_traps = 1 << 5
    core.set_debug(watchpoints=[(0x20000, 4, RW)])
    ex = core.run(100)
    assert ex.reason == Exit.TRAP and ex.cause == 5


PAGED = """
.equ PD, 0x8000
.equ PT, 0x9000
start:
    li   r1, PD
    li   r2, PT | 3
    st   r2, [r1]               ; directory entry 0 -> PT
    li   r1, PT
    li   r2, 3                  ; page 0 -> frame 0 (the code)
    st   r2, [r1]
    li   r2, 0x2003             ; page 1 -> frame 2
    st   r2, [r1 + 4]
    li   r1, PD
    mtcr ptbr, r1
    li   r1, 5                  ; KM | PG
    mtcr status, r1
    li   r3, 0x1010
    st   r3, [r3]               ; virtual 0x1010 = physical 0x2010
here:
    halt
"""


def test_breakpoints_and_watchpoints_are_virtual_with_paging_on(core_kind):
    core, sym = machine(core_kind, PAGED)
    core.set_debug(breakpoints=[sym["here"]], watchpoints=[(0x1010, 4, WATCH_WRITE)])
    ex = core.run(1000)
    assert ex.reason == Exit.WATCH and ex.badaddr == 0x1010 and core.cr[ST] & PG
    core.set_debug(breakpoints=[sym["here"]])
    ex = core.run(1)                         # the store retires and arrives at `here`
    assert ex.reason == Exit.BREAK and core.pc == sym["here"]
    assert core.mem[0x2010] == 0x10


TIMER = """
start:
    li   r1, handler
    mtcr evec, r1
    li   r1, 3
    out  0x20, r1               ; a tick every 3 instructions
    sti
spin:
    jmp  spin
handler:
    nop
    iret
"""


def test_breakpoint_at_a_handler_entered_by_an_interrupt(core_kind):
    core, sym = machine(core_kind, TIMER)
    core.set_debug(breakpoints=[sym["handler"]])
    ex = core.run(1000)
    assert ex.reason == Exit.IO_OUT
    core.set_timer(ex.value)
    ex = core.run(1000)
    assert ex.reason == Exit.BREAK and core.pc == sym["handler"]
    assert core.cr[int(CR.cause)] == 16 and not core.cr[ST] & IE
    n = core.icount
    ex = core.run(1000)
    assert ex.reason == Exit.BREAK and core.icount > n


SMP = """
start:
    mfcr r1, cpuid
    shl  r1, r1, 2
    li   r2, 0x800
    add  r2, r2, r1
spin:
    ld   r3, [r2]
    add  r3, r3, 1
    st   r3, [r2]
    jmp  spin
"""


def test_several_cpus_name_the_cpu_that_stopped(core_kind):
    core, sym = machine(core_kind, SMP, cpus=3, quantum=5)
    spin = sym["spin"]
    core.set_debug(watchpoints=[(0x804, 4, WATCH_WRITE)])
    ex = core.run(10_000)
    assert ex.reason == Exit.WATCH and ex.cpu == 1 and ex.badaddr == 0x804
    assert core.cur == 1 and core.cpus[1].pc == spin + 12
    core.set_debug(breakpoints=[spin])
    stops = []
    for _ in range(6):
        ex = core.run(10_000)
        assert ex.reason == Exit.BREAK and core.cpus[ex.cpu].pc == spin
        stops.append((ex.cpu, core.slots))
    # each CPU arrives at spin from `jmp` (or from the setup at first); the turns are
    # 5 slots, and a turn's end does not hide an arrival on its last slot
    assert [c for c, _ in stops] == [1, 2, 0, 1, 2, 0]
    assert all(b > a for (_, a), (_, b) in zip(stops, stops[1:]))


# --- differential: random machines with random debug settings on both cores ------------------

def _debug_settings(r, ms, state, cpus):
    """Breakpoints near the code and the handler, watched ranges near the data edges."""
    pc, evec = state["pc"], state["cr"][EV]
    spots = [pc + r.int(0, 40), pc + r.int(0, 160), evec, evec + r.int(0, 12), r.int(0, ms)]
    mode = r.int(0, 2)                  # breakpoints, watchpoints, both
    breaks = {s & 0xFFFF_FFFF for s in spots if r.int(0, 2)} if mode != 1 else set()
    watches = []
    for _ in range(r.int(1, 3) if mode else 0):
        lo = r.choice((0, r.int(0, ms), ms - r.int(1, 8), state["regs"][15] - r.int(0, 12),
                       r.choice(state["regs"]) + r.int(-4, 4),
                       r.int(0, ms // 4096) * 4096 - r.int(0, 3), 0xFFFF_FFFF - r.int(0, 3)))
        watches.append((lo & 0xFFFF_FFFF, r.choice((1, 2, 4, 8, 64, 4096, ms // 2, 1 << 32)),
                        r.choice((WATCH_READ, WATCH_WRITE, RW))))
    return sorted(breaks), watches


def _differential(seed, paging_loop=False, cpus=1):
    import random
    from tests.test_lockstep import RandomSource, machine as random_machine, paging_machine
    r = RandomSource(random.Random(seed))
    ms, mem, state, _steps, _budget = (paging_machine if paging_loop else random_machine)(r)
    breaks, watches = _debug_settings(r, ms, state, cpus)
    quantum = r.int(1, 9)
    cores = [make_core(kind, mem_size=ms, cpus=cpus, quantum=quantum) for kind in ("c", "py")]
    for core in cores:
        core.mem[:] = mem
        for i, c in enumerate(core.cpus):
            s = dict(state)
            if i:               # the other CPUs start a little further on
                s["pc"] = (state["pc"] + 6 * i) & 0xFFFF_FFFF
            c.set_state(s)
        core.set_debug(breakpoints=breaks, watchpoints=watches)
    seen = []
    stepping = False
    for step in range(80):
        budget = 1 if stepping else r.choice((1, 7, 50, 400))
        exits = [core.run(budget) for core in cores]
        if stepping:            # the watched access done: the watches again
            for core in cores:
                core.set_debug(breakpoints=breaks, watchpoints=watches)
            stepping = False
        assert exits[0] == exits[1], (seed, step, exits)
        a, b = cores
        assert a.cur == b.cur and [c.get_state() for c in a.cpus] == \
            [c.get_state() for c in b.cpus], (seed, step, exits[0])
        assert a.mem == b.mem, (seed, step)
        ex = exits[0]
        seen.append(ex.reason)
        if ex.reason in (Exit.HALT, Exit.WFI, Exit.SHUTDOWN, Exit.TRAP):
            break
        if ex.reason == Exit.IO_IN:
            for core in cores:
                core.cpus[ex.cpu].regs[ex.reg] = 0xFFFF_FFFF
        elif ex.reason == Exit.WATCH:
            # step over the access: no watches for one slot (of the CPU that stopped)
            for core in cores:
                core.set_debug(breakpoints=breaks)
            stepping = True
    return seen


@pytest.mark.parametrize("chunk", range(4))
def test_differential_random_debug_settings(native, chunk):
    """Random machines (tests/test_lockstep.py's generators: paging on and off, traps,
    timers) with random breakpoints and watched ranges, one and several CPUs: both cores
    give the same exits, states and memory, exit by exit."""
    reasons = set()
    for seed in range(900_000 + 100 * chunk, 900_000 + 100 * (chunk + 1)):
        cpus = 1 + seed % 3
        reasons.update(_differential(seed, paging_loop=seed % 4 == 0, cpus=cpus))
    assert {Exit.BREAK, Exit.WATCH} <= reasons, reasons


WFI = """
start:
    li   r1, 40
    out  0x20, r1               ; a tick in 40 instructions; interrupts stay off
    wfi                         ; waits, then wakes with nothing delivered
after:
    nop
    halt
"""


def test_breakpoint_after_a_wfi_that_waits(core_kind):
    """The wfi retires onto the breakpoint: reported then, the CPU waiting; its wake-up
    (interrupts off: nothing is delivered) does not report it again."""
    core, sym = machine(core_kind, WFI)
    core.set_debug(breakpoints=[sym["after"]])
    ex = core.run(1000)
    assert ex.reason == Exit.IO_OUT
    core.set_timer(ex.value)
    ex = core.run(1000)
    assert ex.reason == Exit.BREAK and core.pc == sym["after"] and core.icount == 3
    assert core.cpus[0].waiting
    ex = core.run(1000)
    assert ex.reason == Exit.HALT and core.icount == 2 + 40 + 2


SMP_WFI = """
start:
    mfcr r1, cpuid
    li   r2, 0
    bne  r1, r2, secondary
    li   r4, 10
delay:
    sub  r4, r4, 1              ; CPU 1 is in wfi by the end of this
    bne  r4, r2, delay
    li   r3, 1
    out  0x21, r3               ; CPU 0 wakes CPU 1 with an IPI
spin:
    jmp  spin
secondary:
    wfi                         ; CPU 1 waits, interrupts off
woken:
    halt
"""


def test_breakpoint_after_a_wfi_with_several_cpus(core_kind):
    core, sym = machine(core_kind, SMP_WFI, cpus=2, quantum=3)
    core.set_debug(breakpoints=[sym["woken"]])
    seen = []
    while True:
        ex = core.run(1000)
        if ex.reason == Exit.IO_OUT:
            core.send_ipi(ex.value)
            continue
        seen.append((ex.reason, ex.cpu, core.cpus[1].waiting))
        if ex.reason != Exit.BREAK:
            break
    assert seen == [(Exit.BREAK, 1, True), (Exit.HALT, 1, False)]
