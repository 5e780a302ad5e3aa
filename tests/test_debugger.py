"""The debugger engine: reverse execution is exact, reverse-continue finds what a forward
run finds, and the stepping commands, on both cores, bare and under the hypervisor."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from asm.assembler import assemble
from asm.loader import load_program
from debugger.engine import DebugError, Debugger
from vcpu.cores import available_kinds

ROOT = Path(__file__).resolve().parent.parent
MODES = [(core, hv) for core in available_kinds() for hv in (False, True)]
IDS = [f"{c}-{'hv' if hv else 'bare'}" for c, hv in MODES]

# A program with calls, a loop, memory traffic, console output and a timer interrupt.
PROGRAM = """
.entry main
main:
    li r1, handler
    mtcr evec, r1
    li r1, 37
    out 0x20, r1            ; timer every 37 instructions
    sti
    li r10, 0
loop:
    mov r1, r10
    call work
    li r2, counter
    ld r3, [r2]
    add r3, r3, r1
    st r3, [r2]
    add r10, r10, 1
    li r4, 40
    blt r10, r4, loop
    li r1, 'A'
    out 0x10, r1
    halt
work:
    push r5
    mul r5, r1, r1
    add r1, r5, 3
    pop r5
    ret
handler:
    push r6
    li r6, ticks
    ld r7, [r6]
    add r7, r7, 1
    st r7, [r6]
    pop r6
    iret
counter: .word 0
ticks: .word 0
"""


@pytest.fixture(scope="module")
def image():
    return assemble(PROGRAM, "prog.s")


def make(image, core, hv, interval=64):
    return Debugger(image, core=core, hv=hv, interval=interval, program="prog.s")


def total(image, core, hv):
    d = make(image, core, hv)
    d.cont()
    return d.icount, bytes(d.t.output)


@pytest.mark.parametrize("core,hv", MODES, ids=IDS)
def test_reverse_stepi_then_stepi_is_byte_identical(image, core, hv):
    end, output = total(image, core, hv)
    assert output == b"A"
    rng = random.Random(7)
    d = make(image, core, hv)
    for _ in range(6):
        point = rng.randrange(1, end - 20)
        d.goto(point)
        assert d.icount == point
        before = d.t.fingerprint()
        k = rng.randrange(1, 20)
        d.reverse_stepi(k) if rng.random() < 0.5 else [d.reverse_stepi() for _ in range(k)]
        # A trap delivery (a fault or interrupt) is a position of its own, between two
        # instruction counts: there a debugger stands at the handler's first instruction.
        assert point - k <= d.icount < point
        for _ in range(k):
            d.stepi()
        assert d.position == (point, 0)
        assert d.t.fingerprint() == before


@pytest.mark.parametrize("core,hv", MODES, ids=IDS)
def test_reverse_continue_stops_at_the_last_forward_hit(image, core, hv):
    end, _ = total(image, core, hv)
    rng = random.Random(3)
    for spec in ("work", "handler", "prog.s:14"):
        fwd = make(image, core, hv)
        fwd.add_breakpoint(spec)
        hits = []
        while fwd.cont().reason == "breakpoint":
            hits.append((fwd.icount, fwd.t.fingerprint()))
        assert hits, spec
        d = make(image, core, hv)
        d.add_breakpoint(spec)
        for _ in range(3):
            point = rng.randrange(hits[0][0] + 1, end + 1)
            d.delete()
            d.goto(point)
            d.add_breakpoint(spec)
            stop = d.reverse_continue()
            last = [h for h in hits if h[0] < point][-1]
            assert stop.reason == "breakpoint", (spec, point)
            assert d.icount == last[0]
            assert d.t.fingerprint() == last[1]
        # Before the first hit there is nothing: back to the start of history.
        d.delete()
        d.goto(hits[0][0])
        d.add_breakpoint(spec)
        assert d.reverse_continue().reason == "history-start"
        assert d.icount == 0


@pytest.mark.parametrize("core,hv", MODES, ids=IDS)
def test_watchpoints_and_catchpoints(image, core, hv):
    d = make(image, core, hv)
    w = d.add_watchpoint("counter")
    stop = d.cont()
    assert stop.reason == "watchpoint" and "New value = 0" not in stop.text
    assert d.read_word(d.lookup("counter")) == 3        # 0*0 + 3
    where = d.icount
    stop = d.cont()
    assert d.read_word(d.lookup("counter")) == 3 + 4
    d.delete([w.number])
    d.add_watchpoint("ticks", "rwatch")
    stop = d.cont()
    assert stop.reason == "watchpoint" and "handler" in d.where(d.pc - 6)
    d.delete()
    # Backwards, the stop is before the instruction that wrote the word.
    d.goto(where + 50)
    d.add_watchpoint("counter")
    stop = d.reverse_continue()
    assert stop.reason == "watchpoint"
    assert d.insn_at(d.pc).instr.mnemonic == "st"
    d.delete()
    d.goto(0)
    c = d.add_catch("trap", [16])
    stop = d.cont()
    assert stop.reason == "catch" and "timer" in stop.text
    assert d.icount <= 37 + 8
    stop = d.cont()
    assert stop.reason == "catch"
    d.delete([c.number])
    if hv:
        d.add_catch("exit")
        stop = d.cont()
        assert stop.reason == "catch" and "exit" in stop.text
    else:
        with pytest.raises(DebugError):
            d.add_catch("exit")


@pytest.mark.parametrize("core,hv", MODES, ids=IDS)
def test_stepping_commands(image, core, hv):
    d = make(image, core, hv)
    d.add_breakpoint("prog.s:12")          # call work
    d.cont()
    assert d.source()[1] == 12
    calls = d.icount
    d.nexti()                               # over the call
    assert d.source()[1] == 13 and d.where() == "loop+0x7"
    d.goto(calls)
    d.stepi()
    assert d.where() == "work"
    assert [f[1] for f in d.frames()][:2] == ["work", "loop+0x2"]
    d.stepi(2)
    assert d.source()[1] == 26
    d.finish()
    assert d.where() == "loop+0x7" and d.source()[1] == 13
    d.reverse_stepi(3)
    assert d.where().startswith("work")
    d.reverse_finish()
    assert d.icount == calls and d.where() == "loop+0x2"
    d.step()                                 # into work: the next line is in work
    assert d.source()[1] == 24
    d.goto(calls)
    d.step(over=True)
    assert d.source()[1] == 13
    d.reverse_step(over=True)                # back over the call
    assert d.icount == calls
    d.reverse_nexti()
    assert d.source()[1] == 11
    d.delete()
    d.until("prog.s:19")                     # the loop's branch
    assert d.source()[1] == 19
    d.reverse_step()
    assert d.source()[1] == 18


def test_conditions_tbreak_and_expressions(image):
    d = make(image, "py", False)
    d.add_breakpoint("work", condition="r1 == 5")
    d.cont()
    assert d.evaluate("r1") == 5 and d.evaluate("r10 == 5") == 1
    assert d.evaluate("*counter") == sum(i * i + 3 for i in range(5))
    assert d.evaluate("counter + 4") == d.symbols["ticks"].value
    assert d.evaluate("[sp]") == d.lookup("loop") + 7
    d.delete()
    (t,) = d.add_breakpoint("*loop", temporary=True)
    assert d.cont().reason == "breakpoint" and t.number not in d.breakpoints
    assert d.cont().reason == "exited"
    for bad in ("nosuch", "r1 +", "1/0", "*0xfffffff0"):
        with pytest.raises(DebugError):
            d.evaluate(bad)
    with pytest.raises(DebugError):
        d.add_breakpoint("prog.s:999")
    with pytest.raises(DebugError):
        d.add_breakpoint("work", condition="r1 ==")


def test_views_under_the_hypervisor(image):
    d = make(image, "py", True)
    d.add_breakpoint("handler")
    d.cont()
    rows = {n: (v, r) for n, v, r in d.control_registers()}
    assert rows["status"][0] & 1 and not rows["status"][1] & 1    # virtual KM, real user
    assert rows["cause"][0] == 16
    walk = d.pagetable(d.pc)
    assert walk["guest"]["pa"] == d.pc and "shadow" in walk
    assert d.exits().get("trap:3", 0) > 0
    assert d.memory(d.lookup("main"), 2) == bytes(image.segments[0][1][:2])


def test_checkpoints_fit_the_budget(image):
    d = Debugger(image, core="py", interval=8, budget=10 * 70_000)
    d.cont()
    assert len(d.cp.states) <= 10
    keys = sorted(d.cp.states)
    assert keys[0] == 0
    gaps = [b - a for a, b in zip(keys, keys[1:])]
    assert gaps[-1] <= gaps[0]               # denser near the present
    d.reverse_stepi(5)
    d.goto(3)
    assert d.icount == 3


def test_bench_runs_small(capsys):
    from debugger.bench import main
    assert main(["--n", "3000", "--points", "2", "--core", available_kinds()[0]]) == 0
    out = capsys.readouterr().out
    assert "reverse-continue 2998 instructions back" in out and "recording overhead" in out
    assert "back to a watchpoint" in out and "over a call of 3000 instructions" in out
    assert main(["--n", "4000", "--points", "2", "--cpus", "2", "--paging", "--hv",
                 "--core", available_kinds()[0]]) == 0
    out = capsys.readouterr().out
    assert "2 CPUs, paging on" in out and "back to a breakpoint" in out


@pytest.mark.parametrize("core,hv", MODES, ids=IDS)
def test_reverse_continue_to_a_catchpoint_matches_forward(image, core, hv):
    fwd = make(image, core, hv)
    fwd.add_catch("trap", [16])
    hits = []
    while fwd.cont().reason == "catch":
        hits.append((fwd.position, fwd.t.fingerprint()))
    assert len(hits) > 3
    d = make(image, core, hv)
    d.cont()
    d.add_catch("trap", [16])
    for want in reversed(hits[-3:]):
        stop = d.reverse_continue()
        assert stop.reason == "catch" and "timer" in stop.text
        assert d.position == want[0]
        assert d.t.fingerprint() == want[1]


@pytest.mark.parametrize("core,hv", MODES, ids=IDS)
def test_backtrace_through_an_interrupt(image, core, hv):
    d = make(image, core, hv)
    d.add_breakpoint("handler")
    d.add_breakpoint("work")
    while True:
        d.cont()
        if d.where() == "handler" and len(d.frames()) > 2:
            break          # an interrupt that arrived inside work
    frames = [f[1] for f in d.frames()]
    assert frames[0] == "handler"
    assert frames[1].startswith("work") and "[timer interrupt" in frames[1]
    assert frames[2] == "loop+0x2"
    d.delete()
    d.stepi(7)                                   # through the handler's iret
    assert [f[1] for f in d.frames()][1] == "loop+0x2"


def fast_hits(d, pcs, until):
    """The breakpoint positions up to `until` that the core reports (Target.run_fast)."""
    hits = []
    while True:
        ev, d.phase = d.t.run_fast(0, d.phase, pcs=pcs, until=until)
        if ev is None:
            return hits
        hits.append(ev["pos"])


def stepped_hits(d, pcs, until):
    """The same, found by single steps: after each, the CPU that took it stands at a
    breakpoint address (a slot it spent waiting in `wfi` arrives nowhere)."""
    hits = []
    while d.position < until and d.running:
        d._step1(catches=False)
        c = d.t.core.cpus[d.t.acted if d.multi else 0]
        if c.pc in pcs and not d.idle_step and d.position <= until:
            hits.append(d.position)
    return hits


@pytest.mark.parametrize("core,hv", MODES, ids=IDS)
def test_core_breakpoints_find_what_stepping_finds(image, core, hv):
    """The core's breakpoints report exactly the positions that stepping reports, for
    random breakpoint sets (interrupt handler entries included), and leave the machine
    in the same state."""
    rng = random.Random(5)
    d = make(image, core, hv)
    code_end = image.symbol_map()["counter"].value
    starts = sorted({r.address for r in image.lines if r.address < code_end})
    for _ in range(6):
        pcs = set(rng.sample(starts, 3)) | {image.symbol_map()["handler"].value}
        end = (rng.randrange(50, 600), 0)
        start = rng.randrange(0, end[0])
        d.goto(start)
        fast = fast_hits(d, pcs, end)
        assert d.position == end
        expected = d.t.fingerprint()
        d.goto(start)
        slow = stepped_hits(d, pcs, end)
        assert fast == slow and fast
        assert d.t.fingerprint() == expected


def test_breakpoints_leave_the_code_as_it_is():
    """A program that reads its own code at a breakpoint address sees its own bytes, and
    reverse-continue finds the last hit a forward run makes."""
    src = PROGRAM.replace("    mov r1, r10\n    call work\n",
                          "    mov r1, r10\n    li r6, work\n    ldb r7, [r6]\n"
                          "    add r1, r1, r7\n    call work\n")
    im = assemble(src, "prog.s")
    for core in available_kinds():
        fwd = Debugger(im, core=core, interval=64)
        fwd.add_breakpoint("work")
        hits = []
        while fwd.cont().reason == "breakpoint":
            hits.append(fwd.position)
        plain = Debugger(im, core=core, interval=64)
        plain.cont()
        assert fwd.t.output == plain.t.output and fwd.position == plain.position
        d = Debugger(im, core=core, interval=64)
        d.cont()
        d.add_breakpoint("work")
        assert d.reverse_continue().reason == "breakpoint" and d.position == hits[-1]


def stepping_only(d):
    """Make `d` search by single steps, as it does beyond the core's limits."""
    d._core_settings = lambda target=None: None
    return d


@pytest.mark.parametrize("core", available_kinds())
def test_continue_at_full_speed_finds_what_stepping_finds(core):
    from debugger.bench import program
    im = program(40_000)
    runs = []
    for fast in (True, False):
        d = Debugger(im, core=core, interval=1 << 15)
        if not fast:
            stepping_only(d)
        d.add_breakpoint("loop", condition="r1 == 7777")
        d.add_breakpoint("marker")
        stops = []
        while True:
            stop = d.cont()
            if stop.reason != "breakpoint":
                break
            stops.append((stop.number, d.position, d.t.fingerprint()))
        runs.append(stops)
    assert runs[0] == runs[1]
    assert [s[0] for s in runs[0]] == [2, 1]


@pytest.mark.parametrize("core,hv", MODES, ids=IDS)
def test_watch_and_catch_at_full_speed_stop_where_stepping_stops(image, core, hv):
    """Watchpoints (each kind) and catchpoints found by the core's events stop at the
    same positions, with the same reports and machine states, as single steps find them,
    forwards and backwards."""
    setups = [
        lambda d: d.add_watchpoint("counter"),
        lambda d: d.add_watchpoint("ticks", kind="rwatch"),
        lambda d: d.add_watchpoint("counter", kind="awatch"),
        lambda d: d.add_catch("trap", frozenset({16})),
        lambda d: (d.add_watchpoint("ticks"), d.add_breakpoint("work", condition="r1 == 5")),
    ]
    for setup in setups:
        runs = []
        for fast in (True, False):
            d = make(image, core, hv)
            if not fast:
                stepping_only(d)
            setup(d)
            stops = []
            for _ in range(8):
                stop = d.cont()
                if stop.reason == "exited":
                    break
                stops.append((stop.reason, stop.number, stop.text, d.position,
                              d.t.fingerprint()))
            # and back from there: reverse-continue three times
            for _ in range(3):
                stop = d.reverse_continue()
                stops.append((stop.reason, stop.number, stop.text, d.position,
                              d.t.fingerprint()))
            runs.append(stops)
        assert runs[0] == runs[1]
        assert len([s for s in runs[0] if s[0] in ("watchpoint", "catch", "breakpoint")]) >= 6


@pytest.mark.parametrize("core", available_kinds())
def test_core_breakpoints_under_the_hypervisor_with_the_guests_paging(core):
    """Under the hypervisor, with the guest's paging on (the sample kernel: a page table
    per task, timer preemption), the core's breakpoints give the positions stepping gives."""
    from asm.loader import load_program
    im = load_program(str(ROOT / "guests" / "kernel.s"))
    rng = random.Random(11)
    code = sorted({r.address for r in im.lines})
    for hv in (True, False):
        d = Debugger(im, core=core, hv=hv)
        for _ in range(3):
            pcs = set(rng.sample(code, 4))
            end = (rng.randrange(2000, 12000), 0)
            start = rng.randrange(0, end[0])
            d.goto(start)
            fast = fast_hits(d, pcs, end)
            expected = d.t.fingerprint()
            d.goto(start)
            assert stepped_hits(d, pcs, end) == fast
            assert d.t.fingerprint() == expected


SMP = """
.entry start
start:
    mfcr r1, cpuid
    shl  r2, r1, 10
    li   sp, 0x8000
    sub  sp, sp, r2          ; a stack per CPU
    li   r10, 0
loop:
    mov  r1, r10
    call work
    add  r10, r10, 1
    li   r4, 12
    blt  r10, r4, loop
    mfcr r1, cpuid
    li   r2, 0
    beq  r1, r2, wait
    li   r3, done
    li   r5, 1
    st   r5, [r3]
spin:
    jmp  spin
wait:
    li   r3, done
    ld   r5, [r3]
    beq  r5, r2, wait
    halt
work:
    push r5
    li   r5, total
    ld   r6, [r5]
    add  r6, r6, r1
    st   r6, [r5]
    pop  r5
    ret
done:  .word 0
total: .word 0
"""


SMP_MODES = [(core, hv, n) for core, hv in MODES for n in (2, 4)]
SMP_IDS = [f"{c}-{'hv' if hv else 'bare'}-{n}cpus" for c, hv, n in SMP_MODES]


@pytest.mark.parametrize("core,hv,cpus", SMP_MODES, ids=SMP_IDS)
def test_several_cpus(core, hv, cpus):
    """CPUs taking turns of 5 slots: breakpoints stop the CPU that arrives (the selected
    thread follows it), reverse-continue finds the last forward hit with its CPU, and
    reverse-stepi k then stepi k is exact; bare and under the hypervisor alike."""
    im = assemble(SMP, "smp.s")
    fwd = Debugger(im, core=core, hv=hv, cpus=cpus, quantum=5, interval=64)
    fwd.add_breakpoint("work")
    hits = []
    while fwd.cont().reason == "breakpoint":
        hits.append((fwd.position, fwd.thread, fwd.evaluate("r1")))
    assert {h[1] for h in hits} == set(range(cpus)) and len(hits) == 12 * cpus
    end = fwd.position
    assert not fwd.running
    bare = Debugger(im, core=core, cpus=cpus, quantum=5, interval=64)
    bare.add_breakpoint("work")
    same = []
    while bare.cont().reason == "breakpoint":
        same.append((bare.position, bare.thread, bare.evaluate("r1")))
    assert same == hits                    # bare and virtualized stop at the same places
    fwd = Debugger(im, core=core, hv=hv, cpus=cpus, quantum=5, interval=64)
    fwd.add_breakpoint("work")
    for i in range(len(hits)):
        fwd.cont()
        if i >= len(hits) - 5:
            hits[i] = (*hits[i], fwd.t.fingerprint())
    d = Debugger(im, core=core, hv=hv, cpus=cpus, quantum=5, interval=64)
    d.goto(end[0])
    d.add_breakpoint("work")
    for want in reversed(hits[-5:]):
        assert d.reverse_continue().reason == "breakpoint"
        assert (d.position, d.thread, d.evaluate("r1"), d.t.fingerprint()) == want
    rng = random.Random(2)
    d.delete()
    for _ in range(4):
        point = rng.randrange(10, end[0] - 10)
        d.goto(point)
        before = d.t.fingerprint()
        k = rng.randrange(1, 9)
        d.reverse_stepi(k)
        d.stepi(k)
        assert d.position == (point, 0) and d.t.fingerprint() == before
    d.thread = 1
    assert d.evaluate("cpuid") == 1


def SYMS(im):
    return {s.name: s.value for s in im.symbols}


def _thread_steps(core, hv, cpus):
    """step/next/finish/nexti/until and their reverse forms on CPU 1, while the others
    run in their turns: what each stop shows, to compare bare with virtualized."""
    im = assemble(SMP, "smp.s")
    d = Debugger(im, core=core, hv=hv, cpus=cpus, quantum=5, interval=64, program="smp.s")
    line = {r.line: r.address for r in im.lines}
    src = SMP.splitlines()
    at = {text.split(";")[0].strip(): n for n, text in enumerate(src, 1)}
    work, after_call = SYMS(im)["work"], line[at["add  r10, r10, 1"]]
    call = line[at["call work"]]
    d.add_breakpoint("smp.s:%d" % at["call work"])
    while not (d.cont().reason == "breakpoint" and d.thread == 1):
        pass
    d.delete()
    seen = []

    def note(stop):
        assert d.thread == 1 and stop.reason == "step", stop
        seen.append((d.position, d.pc, d.t.core.cpus[1].icount, d.t.fingerprint()))
    clock = d.t.core.cpus[1].icount
    note(d.step())                           # into work: CPU 1 took one slot
    assert d.pc == work and d.t.core.cpus[1].icount == clock + 1
    # the shadow call stack is kept per CPU: CPU 1's call, whatever CPU 0 does meanwhile
    assert [w.split("+")[0] for _, w, _ in d.frames()] == ["work", "loop"]
    note(d.finish())                         # back in loop, on CPU 1
    assert d.pc == after_call
    note(d.step(4))
    assert d.pc == call
    note(d.step(over=True))                           # over the call: its whole body on CPU 1
    assert d.pc == after_call and d.t.core.cpus[1].icount == clock + 1 + 7 + 4 + 8
    note(d.reverse_step(over=True))                   # back before that call, CPU 1's turn
    assert d.pc == call and d.t.next_actor() == 1
    q = (d.position, d.t.fingerprint())
    note(d.step(over=True))
    note(d.reverse_step(over=True))
    assert (d.position, d.t.fingerprint()) == q
    note(d.nexti())
    assert d.pc == after_call
    note(d.reverse_step())                   # into the callee's last line, backwards
    assert d.pc == line[at["ret"]] and d.t.next_actor() == 1
    note(d.reverse_finish())                 # to the call that entered it
    assert d.pc == call and d.t.next_actor() == 1 and (d.position, d.t.fingerprint()) == q
    note(d.until("smp.s:%d" % at["blt  r10, r4, loop"]))
    assert d.pc == line[at["blt  r10, r4, loop"]]
    note(d.reverse_nexti())
    return seen


@pytest.mark.parametrize("core,cpus", [(c, n) for c in available_kinds() for n in (2, 4)])
def test_several_cpus_steps_follow_the_selected_thread(core, cpus):
    """A step of the selected CPU is the slots it takes (the others run their turns in
    between); bare and virtualized stop at the same positions in the same states."""
    bare = _thread_steps(core, False, cpus)
    virt = _thread_steps(core, True, cpus)
    assert [s[:3] for s in bare] == [s[:3] for s in virt]


@pytest.mark.parametrize("core,hv,cpus", SMP_MODES, ids=SMP_IDS)
def test_several_cpus_watchpoints(core, hv, cpus):
    """A watchpoint sees every CPU's writes and selects the CPU that wrote;
    reverse-continue stops before the last write a forward run stopped after."""
    im = assemble(SMP, "smp.s")
    rows = {SMP.splitlines()[r.line - 1].strip(): r.address for r in im.lines}
    st, pop = rows["st   r6, [r5]"], rows["pop  r5"]
    d = Debugger(im, core=core, hv=hv, cpus=cpus, quantum=5, interval=64)
    d.add_watchpoint("total")
    hits = []
    while d.cont().reason == "watchpoint":
        cpu = d.t.core.cpus[d.thread]
        assert d.t.acted == d.thread and cpu.pc == pop        # just after its store
        hits.append((d.position, d.thread, d.evaluate("r6"), d.t.fingerprint()))
    assert {h[1] for h in hits} == set(range(cpus)) and len(hits) >= 11
    end = d.position
    d.goto(end[0])
    for want in reversed(hits[-3:]):
        stop = d.reverse_continue()
        assert stop.reason == "watchpoint" and d.thread == want[1] and d.pc == st
        assert d.position == (want[0][0] - 1, 0) and d.t.next_actor() == want[1]
        d.stepi()
        assert (d.position, d.t.fingerprint()) == (want[0], want[3])
        d.reverse_stepi()


SYSCALLS = """
.entry main
main:
    li   r1, handler
    mtcr evec, r1
    mfcr r1, cpuid
    add  r2, r1, 1
again:
    sys  7
    sub  r2, r2, 1
    bne  r2, r0, again
    li   r3, 0
spin:
    add  r3, r3, 1
    li   r4, 40
    blt  r3, r4, spin
    halt
handler:
    mfcr r5, epc
    mtcr epc, r5
    iret
"""


@pytest.mark.parametrize("core,hv,cpus", SMP_MODES, ids=SMP_IDS)
def test_several_cpus_catchpoints(core, hv, cpus):
    """`catch syscall` stops before each CPU's `sys` with that CPU selected (CPU k makes
    k+1 of them); reverse-continue finds the last one a forward run found."""
    im = assemble(SYSCALLS, "sys.s")
    d = Debugger(im, core=core, hv=hv, cpus=cpus, quantum=3, interval=64)
    d.add_catch("syscall", [7])
    hits = []
    while (stop := d.cont()).reason == "catch":
        assert d.pc == SYMS(im)["again"]
        hits.append((d.position, d.thread, d.t.fingerprint()))
    assert stop.reason == "exited", stop
    assert sorted(h[1] for h in hits) == [k for k in range(cpus) for _ in range(k + 1)]
    d.goto(d.icount)
    for want in reversed(hits[-3:]):
        assert d.reverse_continue().reason == "catch"
        assert (d.position, d.thread, d.t.fingerprint()) == want


@pytest.mark.parametrize("core,hv", MODES, ids=IDS)
def test_backtrace_follows_the_kernels_task_switches(core, hv):
    """guests/kernel.s switches between tasks by loading another task's sp (no `iret`
    between them): the shadow call stack parks each stack and takes it up again, so a
    task's backtrace shows its own calls, not those of the tasks that ran before."""
    im = load_program(str(ROOT / "guests" / "kernel.s"))
    d = Debugger(im, core=core, hv=hv, program="kernel.s")
    d.add_breakpoint("sys_write")
    d.cont()
    d.cont()
    names = [w.split("+")[0] for _, w, _ in d.frames()]
    assert names == ["sys_write", "u_end", "task_sleeper", "user_start"]
    assert "[syscall 1, user mode]" in d.frames()[1][1]


@pytest.mark.parametrize("core", available_kinds())
@pytest.mark.parametrize("cpus", [1, 2])
def test_reverse_continue_to_a_hypervisor_exit_matches_forward(image, core, cpus):
    """`catch exit` under the hypervisor: reverse-continue lands before each exit a
    forward run stopped before, newest first, with the same machine state."""
    im = image if cpus == 1 else assemble(SMP, "smp.s")
    fwd = Debugger(im, core=core, hv=True, cpus=cpus, quantum=5, interval=64)
    fwd.add_catch("exit")
    hits = []
    while fwd.cont().reason == "catch":
        hits.append((fwd.position, fwd.thread, fwd.last_stop.text, fwd.t.fingerprint()))
    assert len(hits) >= 5
    d = Debugger(im, core=core, hv=True, cpus=cpus, quantum=5, interval=64)
    d.cont()
    d.add_catch("exit")
    for want in reversed(hits[-6:]):
        stop = d.reverse_continue()
        assert stop.reason == "catch"
        assert (d.position, d.thread, stop.text, d.t.fingerprint()) == want


@pytest.mark.parametrize("core", available_kinds())
def test_more_breakpoints_than_the_core_holds_still_stop(image, core):
    """Beyond MAX_BREAKPOINTS the debugger steps: the same stops, forwards and back."""
    from vcpu.isa import MAX_BREAKPOINTS
    code_end = image.symbol_map()["counter"].value
    starts = sorted({r.address for r in image.lines if r.address < code_end})
    runs = []
    for many in (False, True):
        d = make(image, core, False)
        d.add_breakpoint("handler")
        if many:                               # never reached: past the program's end
            for i in range(MAX_BREAKPOINTS):
                d.add_breakpoint(f"*0x{0x4000 + 8 * i:x}")
            assert d._core_settings() is None
        stops = [(d.cont().reason, d.position) for _ in range(4)]
        stops += [(d.reverse_continue().reason, d.position) for _ in range(2)]
        runs.append(stops)
    assert runs[0] == runs[1] and runs[0][0][0] == "breakpoint"
    assert starts


@pytest.mark.parametrize("core,hv", MODES, ids=IDS)
def test_next_until_and_nexti_over_calls_run_at_full_speed_as_stepping_does(image, core, hv):
    """`next`, `nexti` over a call and `until LOC` run the machine with the return address
    (or LOC) as a breakpoint in the core: the same stops as stepping, a breakpoint or a
    watchpoint inside the callee included."""
    def session(d):
        out = []
        d.add_breakpoint("loop")
        for cmd in ("c", "n", "n", "ni", "si", "ni", "until 20", "c", "n", "n"):
            stop = {"c": d.cont, "n": lambda: d.step(over=True), "ni": d.nexti,
                    "si": d.stepi}.get(cmd, lambda: d.until(cmd.split()[1]))()
            out.append((cmd, stop.reason, d.position, d.t.fingerprint()))
        d.add_breakpoint("work", condition="r1 == 7")
        d.add_watchpoint("ticks")
        for _ in range(6):
            stop = d.step(over=True)
            out.append(("n", stop.reason, stop.number, d.position, d.t.fingerprint()))
        return out
    fast = session(make(image, core, hv))
    slow = session(stepping_only(make(image, core, hv)))
    assert fast == slow
    assert {s[1] for s in fast} >= {"breakpoint", "step"}


@pytest.mark.parametrize("core,hv", MODES, ids=IDS)
def test_finish_at_full_speed_as_stepping_does(image, core, hv):
    """`finish` runs with the stack above sp watched for reads by the core: it ends after
    the same `ret` as stepping, from the callee and from the interrupt handler's frame."""
    def session(d):
        out = []
        for where in ("work", "handler", "work"):
            d.add_breakpoint(where)
            d.cont()
            d.delete()
            d.stepi(2)
            stop = d.finish()
            out.append((where, stop.reason, stop.text, d.position, d.t.fingerprint()))
        d.add_watchpoint("counter")
        d.add_breakpoint("work")
        d.cont()
        stop = d.finish()
        out.append((stop.reason, stop.text, d.position, d.t.fingerprint()))
        return out
    fast = session(make(image, core, hv))
    slow = session(stepping_only(make(image, core, hv)))
    assert fast == slow


RECURSIVE = """
.entry main
main:
    li   r1, 6
    call fact
    mov  r9, r1
    li   r1, 3
    call fact
    halt
fact:
    li   r2, 1
    bge  r2, r1, fact_done
    push r1
    sub  r1, r1, 1
    call fact
    pop  r2
    mul  r1, r1, r2
    ret
fact_done:
    li   r1, 1
    ret
"""


@pytest.mark.parametrize("core,hv", MODES, ids=IDS)
def test_reverse_line_steps_over_calls_land_where_stepping_lands(image, core, hv):
    """reverse-next and reverse-nexti over a call that returned, and reverse-finish, find
    the call at the core's speed: the same positions and states as the stepping search,
    through recursion and interrupts."""
    def session(d, breaks):
        out = []
        for b in breaks:
            d.add_breakpoint(b)
        for i in range(12):
            d.cont() if i % 3 == 0 else d.step(over=True)
            here = d.position
            for cmd in ("rn", "rni", "rf"):
                d.goto_position(here)
                stop = {"rn": lambda: d.reverse_step(over=True), "rni": d.reverse_nexti,
                        "rf": d.reverse_finish}[cmd]()
                out.append((i, cmd, stop.reason, d.position, d.t.fingerprint()))
            d.goto_position(here)
        return out
    for im, breaks in ((image, ["work", "handler"]),
                       (assemble(RECURSIVE, "fact.s"), ["fact_done"])):
        fast = session(make(im, core, hv), breaks)
        slow = make(im, core, hv)
        slow._call_returned_from = lambda now: None
        slow._entering_call = lambda now: None
        assert fast == session(slow, breaks)


WFI_PROGRAM = """
.entry start
start:
    mfcr r1, cpuid
    li   r2, 0
    bne  r1, r2, secondary
    li   r1, 30
    out  0x20, r1               ; CPU 0: a tick every 30 instructions, interrupts off
    li   r5, 3
again:
    wfi                         ; waits for the tick; nothing is delivered
woken:
    sub  r5, r5, 1
    bne  r5, r2, again
    halt
secondary:
    jmp  secondary
"""


@pytest.mark.parametrize("core,hv", MODES, ids=IDS)
@pytest.mark.parametrize("cpus", [1, 2])
def test_breakpoint_after_a_wfi_stops_as_stepping_does(core, hv, cpus):
    """A breakpoint on the instruction after a `wfi` that waits (woken with interrupts
    off) stops once per wfi, when it retires: fast and stepping alike, forwards and back."""
    im = assemble(WFI_PROGRAM, "wfi.s")
    runs = []
    for fast in (True, False):
        d = Debugger(im, core=core, hv=hv, cpus=cpus, quantum=4, interval=64)
        if not fast:
            stepping_only(d)
        d.add_breakpoint("woken")
        stops = []
        while (stop := d.cont()).reason == "breakpoint":
            stops.append((d.position, d.thread, d.t.fingerprint()))
        for _ in range(2):
            stop = d.reverse_continue()
            stops.append((stop.reason, d.position, d.thread, d.t.fingerprint()))
        runs.append(stops)
    assert runs[0] == runs[1]
    assert len([s for s in runs[0] if len(s) == 3]) == 3


@pytest.mark.parametrize("core,hv", MODES, ids=IDS)
def test_reverse_line_steps_over_calls_with_several_cpus(core, hv):
    """With several CPUs the selected CPU's reverse-next, reverse-nexti and
    reverse-finish find its call at the core's speed too, and land where stepping lands:
    just before the selected CPU's call, its turn come."""
    im = assemble(SMP, "smp.s")
    used = {"returned": 0, "entering": 0}

    def session(d, count):
        out = []
        for i in range(6):
            d.add_breakpoint("work")
            d.cont()
            d.delete()
            d.stepi(2 + i % 3)
            here = d.position
            stop = d.reverse_finish()
            out.append(("rf", stop.reason, d.position, d.thread, d.t.fingerprint()))
            d.goto_position(here)
            d.finish()
            here = d.position
            for cmd in (d.reverse_nexti, lambda: d.reverse_step(over=True)):
                d.goto_position(here)
                stop = cmd()
                out.append(("rn", stop.reason, d.position, d.thread, d.t.fingerprint()))
            d.goto_position(here)
        return out
    fast_d = Debugger(im, core=core, hv=hv, cpus=2, quantum=5, interval=64)
    real_r, real_e = fast_d._call_returned_from, fast_d._entering_call

    def counted(f, key):
        def g(now):
            pos = f(now)
            used[key] += pos is not None
            return pos
        return g
    fast_d._call_returned_from = counted(real_r, "returned")
    fast_d._entering_call = counted(real_e, "entering")
    slow = Debugger(im, core=core, hv=hv, cpus=2, quantum=5, interval=64)
    slow._call_returned_from = lambda now: None
    slow._entering_call = lambda now: None
    assert session(fast_d, True) == session(slow, False)
    assert used["returned"] >= 4 and used["entering"] >= 4


GUEST_MODES = [(core, virt, paging, cpus) for core in available_kinds()
               for virt, paging in (("hw", "shadow"), ("hw", "nested")) for cpus in (1, 2)]


@pytest.mark.parametrize("core,virt,paging,cpus", GUEST_MODES,
                         ids=[f"{c}-{v}-{p}-{n}cpu" for c, v, p, n in GUEST_MODES])
def test_debugging_in_guest_mode(core, virt, paging, cpus):
    """`hv debug --hv --virt hw [--paging nested]`: the same stops as the bare machine,
    reverse-stepi k then stepi k byte-identical, reverse-continue back to the forward
    run's last stops, and the core-driven searches where stepping finds them."""
    src, name = (SMP, "smp.s") if cpus > 1 else (PROGRAM, "prog.s")
    im = assemble(src, name)
    kw = dict(core=core, cpus=cpus, quantum=5, interval=64)

    def stops(d):
        d.add_breakpoint("work")
        out = []
        while d.cont().reason == "breakpoint":
            out.append((d.position, d.thread, d.evaluate("r1")))
        return out, d.position
    bare, end = stops(Debugger(im, **kw))
    fwd = Debugger(im, hv=True, virt=virt, paging=paging, **kw)
    hits, end_hw = stops(fwd)
    assert hits == bare and end_hw == end and len(hits) >= 12
    # forward again, keeping the last stops' machines, then back to each of them
    fwd = Debugger(im, hv=True, virt=virt, paging=paging, **kw)
    fwd.add_breakpoint("work")
    want = []
    for i in range(len(hits)):
        fwd.cont()
        if i >= len(hits) - 3:
            want.append((fwd.position, fwd.thread, fwd.t.fingerprint()))
    d = Debugger(im, hv=True, virt=virt, paging=paging, **kw)
    d.goto(end[0])
    d.add_breakpoint("work")
    for w in reversed(want):
        assert d.reverse_continue().reason == "breakpoint"
        assert (d.position, d.thread, d.t.fingerprint()) == w
    d.delete()
    rng = random.Random(4)
    for _ in range(3):
        d.goto(rng.randrange(10, end[0] - 10))
        before = d.t.fingerprint()
        k = rng.randrange(1, 8)
        d.reverse_stepi(k)
        d.stepi(k)
        assert d.t.fingerprint() == before
    # watch and catch at the core's speed, as stepping finds them
    runs = []
    for fast in (True, False):
        d = Debugger(im, hv=True, virt=virt, paging=paging, **kw)
        if not fast:
            stepping_only(d)
        d.add_watchpoint("total" if cpus > 1 else "counter")
        d.add_catch("trap", frozenset({16}))
        runs.append([(d.cont().reason, d.position, d.thread, d.t.fingerprint())
                     for _ in range(5)] +
                    [(d.reverse_continue().reason, d.position, d.t.fingerprint())
                     for _ in range(2)])
    assert runs[0] == runs[1]


def test_guest_mode_options_need_the_hypervisor():
    im = assemble(PROGRAM, "prog.s")
    with pytest.raises(ValueError, match="need --hv"):
        Debugger(im, virt="hw")
