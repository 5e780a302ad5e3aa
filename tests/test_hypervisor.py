"""The hypervisor: equivalence with the bare machine, guest faults, several guests, tracing."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from asm.assembler import assemble
from asm.loader import load_program
from hypervisor.host import Host, frames_needed
from hypervisor.memory import PoolExhausted
from hypervisor.trace import SCHEMA, Filter, JsonlSink, PerfettoSink, Tracer

from .runners import run_image

ROOT = Path(__file__).resolve().parent.parent
ACCEPTANCE = ROOT.parent / "shared" / "acceptance"

GUESTS = [("hello.s", 65536, b""), ("fib.s", 65536, b""), ("sieve.s", 65536, b""),
          ("echo.s", 65536, b"abc\nxyz\n"), ("disk.s", 65536, b""),
          ("kernel.s", 65536, b"")]


@pytest.mark.parametrize("name,mem,inp", GUESTS, ids=[g[0] for g in GUESTS])
def test_equivalence_final_state(core_kind, name, mem, inp):
    """Same console, status, registers, control registers and instruction count."""
    img = load_program(str(ROOT / "guests" / name))
    bare = run_image(img, core_kind, "bare", mem_size=mem, input=inp, max_steps=2_000_000)
    virt = run_image(img, core_kind, "hv", mem_size=mem, input=inp, max_steps=2_000_000)
    assert bare.kind == virt.kind == "poweroff"
    assert (virt.output, virt.status, virt.regs, virt.pc, virt.icount) == \
        (bare.output, bare.status, bare.regs, bare.pc, bare.icount)
    assert virt.cr == bare.cr


@pytest.mark.skipif(not ACCEPTANCE.exists(), reason="shared acceptance programs not present")
@pytest.mark.parametrize("name", ["arith", "traps", "paging"])
def test_acceptance_both_ways(core_kind, name):
    img = load_program(str(ACCEPTANCE / f"{name}.s"))
    want = (ACCEPTANCE / f"{name}.out").read_bytes()
    for mode in ("bare", "hv"):
        r = run_image(img, core_kind, mode)
        assert (r.kind, r.status, r.output) == ("poweroff", 0, want), mode


def _src(text: str):
    return assemble(text, "<test>")


def test_double_fault_evec_outside_memory(core_kind):
    img = _src("""
        li r1, 0x7ffff000
        mtcr evec, r1
        li r2, 0
        div r3, r1, r2
    """)
    for mode in ("bare", "hv"):
        r = run_image(img, core_kind, mode)
        assert r.kind == "shutdown", mode
        assert "double fault" in r.reason and "0x7ffff000" in r.reason, r.reason
        assert "page fault on fetch" in r.reason


def test_fault_inside_handler(core_kind):
    img = _src("""
        li r1, handler
        mtcr evec, r1
        brk
    handler:
        .byte 0xee          ; undefined opcode as the handler's first instruction
    """)
    for mode in ("bare", "hv"):
        r = run_image(img, core_kind, mode)
        assert r.kind == "shutdown" and "illegal instruction" in r.reason, (mode, r.reason)


def test_wfi_that_never_wakes(core_kind):
    img = _src("wfi\nhalt\n")
    for mode in ("bare", "hv"):
        r = run_image(img, core_kind, mode)
        assert r.kind == "wfi" and "never wake" in r.reason


def test_timer_wfi_equivalence(core_kind):
    """The idle clock: wfi with the timer on skips to the interrupt, identically."""
    img = _src("""
        li r1, handler
        mtcr evec, r1
        li r1, 100
        out 0x20, r1
        sti
        li r5, 0
    loop:
        wfi
        li r6, 5
        blt r5, r6, loop
        li r1, 0
        out 0x20, r1
        out 0xff, r5
    handler:
        add r5, r5, 1
        iret
    """)
    bare = run_image(img, core_kind, "bare")
    virt = run_image(img, core_kind, "hv")
    assert bare.status == virt.status == 5
    assert bare.icount == virt.icount


def test_several_guests_match_solo_runs(core_kind):
    names = ["hello.s", "sieve.s", "fib.s"]
    images = [load_program(str(ROOT / "guests" / n)) for n in names]
    solo = [run_image(img, core_kind, "hv", max_steps=2_000_000) for img in images]
    host = Host(3 * frames_needed(65536) * 4096)
    vms = [host.add(n, img, mem_size=65536, core=core_kind) for n, img in zip(names, images)]
    host.run(slice_=997, max_steps=2_000_000)
    for vm, s in zip(vms, solo):
        assert vm.stop_kind == "poweroff"
        assert bytes(vm.output) == s.output
        assert vm.final_state()["regs"] == s.regs


def test_pool_refuses_too_many_guests():
    img = load_program(str(ROOT / "guests" / "hello.s"))
    host = Host(frames_needed(65536) * 4096)
    host.add("a", img, mem_size=65536, core="py")
    with pytest.raises(PoolExhausted, match="host memory exhausted"):
        host.add("b", img, mem_size=65536, core="py")


def test_fresh_guest_memory_is_zero():
    """Frames are zeroed before they are handed out, even when reused."""
    img = load_program(str(ROOT / "guests" / "hello.s"))
    host = Host(2 * frames_needed(65536) * 4096)
    host.pool.mem[:] = b"\xaa" * len(host.pool.mem)
    vm = host.add("a", img, mem_size=65536, core="py")
    image_bytes = sum(len(d) for _, d in img.segments)
    nonzero = sum(1 for f in vm.frames for b in host.pool.mem[f:f + 4096] if b)
    assert nonzero <= image_bytes


class ListSink:
    def __init__(self):
        self.events = []

    def write(self, e):
        self.events.append(e)

    def close(self):
        pass


def _traced_kernel(flt=None, last=None, sink=None, core="c"):
    img = load_program(str(ROOT / "guests" / "kernel.s"))
    sink = sink or ListSink()
    tracer = Tracer(sink, [img], ["kernel"], flt, last)
    host = Host(frames_needed(128 * 1024) * 4096, trace=tracer)
    host.add("kernel", img, mem_size=128 * 1024, core=core)
    host.run()
    tracer.close()
    return sink


def test_trace_contains_the_trap_story_in_order(core_kind):
    events = _traced_kernel(core=core_kind).events
    story = []
    for e in events:
        if e["kind"] == "emulate" and e["insn"].startswith("mtcr evec") and not story:
            story.append("mtcr evec")
        elif e["kind"] == "inject" and "timer" in e["what"] and story == ["mtcr evec"]:
            story.append("timer")
        elif e["kind"] == "reflect" and e["cause"] == 1 and story == ["mtcr evec", "timer"]:
            story.append("syscall")
        elif e["kind"] == "emulate" and e["insn"] == "iret" and len(story) == 3:
            story.append("iret")
    assert story == ["mtcr evec", "timer", "syscall", "iret"]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    sym = next(e for e in events if e["kind"] == "emulate")["sym"]
    assert sym and ("+" in sym or sym.isidentifier())


def test_jsonl_lines_follow_the_schema(tmp_path):
    path = tmp_path / "t.jsonl"
    _traced_kernel(sink=JsonlSink(str(path)))
    lines = path.read_text().splitlines()
    assert len(lines) > 100
    for line in lines:
        e = json.loads(line)
        assert set(e) == set(SCHEMA)
        assert isinstance(e["seq"], int) and isinstance(e["icount"], int)
        assert e["kind"] in ("emulate", "reflect", "shadow-fill", "inject", "schedule", "stop")
        assert e["pc"] is None or isinstance(e["pc"], int)


def test_perfetto_file_fields_and_nesting(tmp_path):
    path = tmp_path / "t.json"
    _traced_kernel(sink=PerfettoSink(str(path), ["kernel"]))
    doc = json.loads(path.read_text())
    evs = doc["traceEvents"]
    for e in evs:
        assert {"name", "ph", "ts", "pid", "tid"} <= set(e)
        if e["ph"] == "X":
            assert "dur" in e
        if e["ph"] == "i":
            assert e["s"] in ("t", "p", "g")
    by_track = {}
    for e in evs:
        if e["ph"] == "X":
            by_track.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["ts"] + e["dur"]))
    assert by_track
    for spans in by_track.values():
        spans.sort()
        for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
            assert a1 <= b0 or b1 <= a1      # disjoint or strictly nested


def test_filters_select_exactly():
    events = _traced_kernel(Filter(kinds=["reflect"], causes=[1])).events
    assert events and all(e["kind"] == "reflect" and e["cause"] == 1 for e in events)
    events = _traced_kernel(Filter(insns=["mtcr"])).events
    assert events and all(e["insn"].startswith("mtcr") for e in events)
    events = _traced_kernel(Filter(pc_range=(0, 0xFFF))).events
    assert events and all(0 <= e["pc"] <= 0xFFF for e in events)
    assert _traced_kernel(Filter(guests=["nobody"])).events == []


def test_ring_buffer_keeps_the_last_events():
    full = _traced_kernel().events
    last = _traced_kernel(last=5).events
    assert [e["kind"] for e in last] == [e["kind"] for e in full[-5:]]
    assert last[-1]["kind"] == "stop"
