"""The fast exit path and the ways to virtualize (brief §13)."""
from __future__ import annotations

from pathlib import Path

import pytest

from asm.loader import load_program
from hypervisor.host import Host, frames_needed
from vcpu.cores import available_kinds

ROOT = Path(__file__).resolve().parent.parent
CORES = available_kinds()


@pytest.mark.parametrize("core", CORES)
def test_masked_pending_timer_costs_no_exits(core):
    """spin.s sets a 10-instruction timer and spins with interrupts off: once the timer
    interrupt is pending (and masked) the host has no reason to stop the guest."""
    img = load_program(str(ROOT / "guests" / "hostile" / "spin.s"))
    host = Host(frames_needed(65536) * 4096)
    vm = host.add("spin", img, mem_size=65536, core=core)
    steps = 200_000 if core == "py" else 2_000_000
    host.run(max_steps=steps)
    assert vm.stop_kind == "max-steps"
    assert vm.vpending & 1                      # the interrupt is pending, never delivered
    assert vm.stats.exits["budget"] <= 3


def test_pg_properties_hold_for_a_sample_guest():
    from hypervisor.pg import check
    img = load_program(str(ROOT / "guests" / "hello.s"))
    bare, reports = check(img, core=CORES[0])
    assert bare.kind == "poweroff" and reports
    for r in reports:
        assert r.equivalent, r.differences
        assert r.neighbour_ok and r.pool_clean
        assert 0.5 < r.efficiency < 1.0          # hello.s prints: each out is emulated


def test_pg_notices_a_broken_equivalence(monkeypatch):
    """The check can fail: a hypervisor that mis-emulates `out` is caught."""
    from hypervisor import emulate, pg
    real = emulate.EMULATORS["out"]

    def wrong_out(vm, f, n):
        vm.core.regs[f["x"]] ^= 1
        return real(vm, f, n)
    monkeypatch.setitem(emulate.EMULATORS, "out", wrong_out)
    monkeypatch.setattr(emulate, "_decoded", {})
    img = load_program(str(ROOT / "guests" / "hello.s"))
    _, reports = pg.check(img, core=CORES[0], modes=[("trap", "shadow")])
    assert not reports[0].equivalent


def test_peer_loop_encodings_agree_with_lua():
    """The RV32I loop Unicorn runs computes what the Lua loop and the guest loop compute."""
    unicorn = pytest.importorskip("unicorn")
    pytest.importorskip("lupa")
    from unicorn.riscv_const import UC_RISCV_REG_X1, UC_RISCV_REG_X4
    from bench import peers
    code = peers.rv_loop(False)
    uc = unicorn.Uc(unicorn.UC_ARCH_RISCV, unicorn.UC_MODE_RISCV32)
    uc.mem_map(peers.BASE, 0x10000)
    uc.mem_write(peers.BASE, code)
    uc.reg_write(UC_RISCV_REG_X1, 1000)
    uc.emu_start(peers.BASE, peers.BASE + len(code))
    assert uc.reg_read(UC_RISCV_REG_X4) == peers._lua().eval(peers.LUA_LOOP)(1000) == 251000


def test_hv_pg_command(capsys):
    from hv.cli import main
    assert main(["pg", str(ROOT / "guests" / "hello.s"), "--core", CORES[0]]) == 0
    out = capsys.readouterr().out
    assert "equivalence" in out and "trap+shadow" in out and "holds" in out
    assert main(["pg", "/nonexistent.s"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "nonexistent" in err


@pytest.mark.parametrize("name", ["compute", "syscall", "pagetable", "io"])
def test_tradeoff_workloads_are_equivalent(name):
    """The trade-off workloads run the same bare and in every mode (the bench asserts it
    too; here with a small size so it stays quick)."""
    from hypervisor.pg import check
    from asm.assembler import assemble
    src = (ROOT / "bench" / "workloads" / f"{name}.s").read_text()
    # shrink the counts so the test is quick
    for big, small in (("5000000", "5000"), ("100000", "300"), ("20000", "40"), ("3000", "5")):
        src = src.replace(f", {big}\n", f", {small}\n")
    img = assemble(src, f"{name}.s")
    bare, reports = check(img, core=CORES[0], mem=128 * 1024)
    assert bare.kind == "poweroff"
    for r in reports:
        assert r.equivalent, (r.mode, r.differences)


def _guests(host_threads, core, write=None):
    host = Host(3 * frames_needed(65536) * 4096, host_threads=host_threads)
    vms = [host.add(n, load_program(str(ROOT / "guests" / f"{n}.s")), mem_size=65536,
                    core=core, console_write=write) for n in ("hello", "fib", "sieve")]
    host.run(slice_=1000, max_steps=3_000_000)
    return [(vm.stop_kind, vm.status, bytes(vm.output), vm.core.icount, list(vm.core.regs))
            for vm in vms]


@pytest.mark.parametrize("core", CORES)
def test_host_threads_change_nothing_a_guest_sees(core):
    seen = []
    threaded = _guests(2, core, lambda vm, data: seen.append((vm.name, data)))
    assert threaded == _guests(1, core)
    for name, out in zip(("hello", "fib", "sieve"), threaded):
        assert b"".join(d for n, d in seen if n == name) == out[2]


# --- every mode equivalent to the bare machine, on both cores -------------------------------

from vcpu.devices import ConsoleInput  # noqa: E402
from vcpu.machine import Machine  # noqa: E402

MODES = [("trap", "shadow"), ("hw", "shadow"), ("hw", "nested")]
ACCEPTANCE = Path("/work/shared/acceptance")
SAMPLES = {"hello.s": {}, "fib.s": {}, "sieve.s": {}, "kernel.s": {"mem": 128 * 1024},
           "echo.s": {"input": b"hello\nvirtual world\nno newline"}, "disk.s": {"disk": True}}
PROGRAMS = ([("guests/" + n) for n in SAMPLES]
            + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "guests" / "tests").rglob("test_*.s"))
            + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "guests" / "hostile").glob("*.s")))


# Guests that run until stopped, and those whose instructions are dear for the host.
STEPS = {"flood.s": 20_000, "spin.s": 20_000, "tlb_storm.s": 20_000, "big_dma.s": 5_000,
         "fresh_memory.s": 200_000}


def _observe_bare(img, core, mem, data, disk, steps):
    m = Machine(img, mem_size=mem, core=core, console_input=ConsoleInput(data), disk=disk)
    out = m.run(steps)
    return (out.kind, out.status, bytes(m.output), list(m.core.regs), m.core.pc,
            m.core.icount, list(m.core.cr))


def _observe_mode(img, core, mem, data, disk, steps, virt, paging):
    host = Host(frames_needed(mem) * 4096)
    vm = host.add("g", img, mem_size=mem, core=core, console_input=ConsoleInput(data),
                  disk=disk, virt=virt, paging=paging)
    host.run(max_steps=steps)
    return (vm.stop_kind, vm.status, bytes(vm.output), list(vm.core.regs), vm.core.pc,
            vm.core.icount, list(vm.vcr)), vm


def _fresh_disk(tmp_path, tag):
    p = tmp_path / f"{tag}.img"
    p.write_bytes(bytes(64 * 512))
    return str(p)


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("program", PROGRAMS)
def test_every_mode_is_equivalent_to_the_bare_machine(program, core, tmp_path):
    opts = SAMPLES.get(Path(program).name, {}) if program.startswith("guests/") and \
        program.count("/") == 1 else {}
    mem = opts.get("mem", 128 * 1024 if "kernel" in program else 65536)
    data = opts.get("input", b"")
    steps = STEPS.get(Path(program).name, 100_000 if core == "py" else 2_000_000)
    img = load_program(str(ROOT / program))
    disk = _fresh_disk(tmp_path, "bare") if opts.get("disk") or "disk" in program \
        or "dma" in program else None
    want = _observe_bare(img, core, mem, data, disk, steps)
    for virt, paging in MODES:
        vdisk = _fresh_disk(tmp_path, f"{virt}-{paging}") if disk else None
        got, vm = _observe_mode(img, core, mem, data, vdisk, steps, virt, paging)
        assert got[0] == want[0], f"{virt}+{paging}: {vm.reason}"
        if program.endswith("stale_tlb.s") and paging == "shadow":
            # Outside the TLB contract (docs/isa.md): shadow tables keep an unflushed
            # translation until the flush. Nested paging walks the guest's own tables
            # into the same TLB as the bare machine, so it matches there too.
            assert got[0:2] == want[0:2]
            continue
        assert got == want, f"{virt}+{paging} differs from the bare machine"
        if disk:
            assert Path(vdisk).read_bytes() == Path(disk).read_bytes()


@pytest.mark.skipif(not ACCEPTANCE.is_dir(), reason="no acceptance programs on this machine")
@pytest.mark.parametrize("core", CORES)
def test_acceptance_programs_in_every_mode(core):
    for src in sorted(ACCEPTANCE.glob("*.s")):
        if src.stem == "lib":
            continue
        img = load_program(str(src))
        want = (ACCEPTANCE / f"{src.stem}.out").read_bytes()
        for virt, paging in MODES:
            got, vm = _observe_mode(img, core, 65536, b"", None, 2_000_000, virt, paging)
            assert got[0] == "poweroff" and got[1] == 0, (src.name, virt, paging, vm.reason)
            assert got[2] == want, (src.name, virt, paging)


# --- isolation in guest mode: the hostile-guest tests of test_isolation.py, per mode --------

from tests import test_isolation as iso  # noqa: E402


@pytest.fixture(params=[("hw", "shadow"), ("hw", "nested")], ids=["hw+shadow", "hw+nested"])
def hw_mode(request, monkeypatch):
    """Every guest a test adds runs in this mode."""
    virt, paging = request.param
    real = Host.add

    def add(self, name, image, **kw):
        kw.setdefault("virt", virt)
        kw.setdefault("paging", paging)
        return real(self, name, image, **kw)
    monkeypatch.setattr(Host, "add", add)
    iso.reference.cache_clear()
    yield request.param
    iso.reference.cache_clear()


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("name", sorted(iso.ATTACKS))
def test_hostile_guest_contained_in_guest_mode(name, core, tmp_path, hw_mode):
    iso.test_hostile_guest_cannot_touch_its_neighbours(name, core, tmp_path)
    iso.test_hostile_guest_same_bare_and_virtualized(name, core, tmp_path)


@pytest.mark.parametrize("core", CORES)
def test_guest_mode_resource_control(core, hw_mode):
    iso.test_fresh_memory_is_zero_whatever_the_pool_held(core)
    for ptbr in (0x10000, 0xFFFFF000, 0x80000000):
        iso.test_ptbr_outside_memory_reaches_nothing(ptbr, core)


# --- guest mode: the exit controls and the page walks ----------------------------------------

def _workload(name, **sizes):
    from asm.assembler import assemble
    src = (ROOT / "bench" / "workloads" / f"{name}.s").read_text()
    for k, v in sizes.items():
        src = src.replace(f".equ {k}, ", f".equ {k}, {v} ; was ")
    return assemble(src, f"{name}.s")


def _walks(core) -> tuple[int, int]:
    """(TLB misses, memory references of their walks) over a core's CPUs."""
    return (sum(c.tlb_misses for c in core.cpus), sum(c.walk_refs for c in core.cpus))


@pytest.mark.parametrize("core", CORES)
def test_memory_references_per_tlb_miss(core):
    img = _workload("pagetable", SWITCHES=30)
    m = Machine(img, mem_size=128 * 1024, core=core)
    assert m.run(1_000_000).kind == "poweroff"
    # a walk reads 2 entries; one that finds no directory entry stops after 1
    misses, refs = _walks(m.core)
    assert misses and refs == 2 * misses
    _, vm = _observe_mode(img, core, 128 * 1024, b"", None, 1_000_000, "hw", "shadow")
    misses, refs = _walks(vm.core)
    assert 1.5 < refs / misses <= 2                  # the shadow is one table
    _, vm = _observe_mode(img, core, 128 * 1024, b"", None, 1_000_000, "hw", "nested")
    # paging on: 2 + 1 + 2 + 1 + 2 references; only the few misses before paging is on take 2
    misses, refs = _walks(vm.core)
    assert 7.5 < refs / misses <= 8


@pytest.mark.parametrize("core", CORES)
def test_exit_controls_decide_what_exits(core):
    img = _workload("pagetable", SWITCHES=30)
    _, trap = _observe_mode(img, core, 128 * 1024, b"", None, 1_000_000, "trap", "shadow")
    _, shadow = _observe_mode(img, core, 128 * 1024, b"", None, 1_000_000, "hw", "shadow")
    _, nested = _observe_mode(img, core, 128 * 1024, b"", None, 1_000_000, "hw", "nested")
    # trap: sys, mfcr, mtcr and iret of every switch exit; hw+shadow: only the ptbr write
    # (and the shadow fills after it); hw+nested: nothing but the final halt
    assert trap.stats.exits["trap:1"] == 30 and trap.stats.emulated["iret"] >= 29
    assert shadow.stats.exits["trap:1"] == 0 and shadow.stats.emulated["mtcr"] == 2 + 29
    assert shadow.shadow.fills > 29 * 8
    assert {k for k, v in nested.stats.exits.items() if v and k != "budget"} == {"halt"}


@pytest.mark.parametrize("core", CORES)
def test_guest_timer_is_the_cores_own(core):
    """hw mode: `out 0x20` is left to the core by the I/O bitmap, and timer interrupts are
    injected without an exit; the kernel's output is the bare machine's."""
    img = load_program(str(ROOT / "guests" / "kernel.s"))
    _, vm = _observe_mode(img, core, 128 * 1024, b"", None, 2_000_000, "hw", "nested")
    assert vm.stop_kind == "poweroff"
    assert "io_out" in vm.stats.exits and "trap:16" not in vm.stats.exits
    assert not vm.stats.injected and not vm.stats.emulated


def test_guest_mode_constants_agree_with_the_c_header():
    import re
    from vcpu import guestmode
    text = (ROOT / "native" / "core.h").read_text()
    defined = dict((k, int(v)) for k, v in re.findall(r"#define (GM_EXIT_\w+) (\d+)", text))
    assert defined == {k: getattr(guestmode, k) for k in defined} and len(defined) == 4


def test_nested_paging_needs_hw():
    host = Host(frames_needed(65536) * 4096)
    with pytest.raises(ValueError, match="nested paging needs --virt hw"):
        host.add("g", load_program(str(ROOT / "guests" / "hello.s")), mem_size=65536,
                 virt="trap", paging="nested")


@pytest.mark.parametrize("virt,paging", MODES)
def test_hv_boot_virt_and_paging(virt, paging, capfdbinary):
    from hv.cli import main
    status = main(["boot", str(ROOT / "guests" / "kernel.s"), "--mem", "128K", "--core",
                   CORES[0], "--virt", virt, "--paging", paging, "--host-threads", "1"])
    out = capfdbinary.readouterr().out
    assert status == 0
    assert out == (ROOT / "guests" / "expected" / "kernel.out").read_bytes()


def test_hv_boot_traced_guest_mode_exits_for_every_event(tmp_path, capfdbinary):
    """With tracing on, every exit control is set: the trace shows the emulations."""
    import json
    from hv.cli import main
    trace = tmp_path / "t.jsonl"
    assert main(["boot", str(ROOT / "guests" / "kernel.s"), "--mem", "128K", "--virt", "hw",
                 "--paging", "nested", "--trace", str(trace)]) == 0
    assert capfdbinary.readouterr().out == \
        (ROOT / "guests" / "expected" / "kernel.out").read_bytes()
    kinds = {json.loads(line)["kind"] for line in trace.read_text().splitlines()}
    assert {"emulate", "reflect"} <= kinds


def test_a_guest_mode_snapshot_restores_under_trap_and_emulate(tmp_path, capfdbinary):
    """The guest's state is architectural: a snapshot taken in hw+nested continues under
    trap-and-emulate with the output of the uninterrupted run."""
    from hv.cli import main
    kernel = str(ROOT / "guests" / "kernel.s")
    snap = tmp_path / "k.snap"
    assert main(["boot", kernel, "--mem", "128K", "--virt", "hw", "--paging", "nested",
                 "--snapshot-at", f"40000:{snap}"]) == 0
    full = capfdbinary.readouterr().out
    assert main(["restore", str(snap)]) == 0
    tail = capfdbinary.readouterr().out
    assert tail and full.endswith(tail)


@pytest.mark.skipif("c" not in CORES, reason="the native core is not built")
def test_teaching_os_in_every_mode():
    """The teaching OS (processes, address spaces, fork, threads) under every mode."""
    from hv.commands.os import run_os
    progs = [str(ROOT / "guests" / "os" / "demos" / "switching.s")]
    bare = run_os(progs, hv=False, max_steps=20_000_000)
    assert bare.kind == "poweroff" and bare.output
    for virt, paging in MODES:
        got = run_os(progs, hv=True, virt=virt, paging=paging, max_steps=20_000_000)
        assert (got.kind, got.status, got.output, got.icount) == \
            (bare.kind, bare.status, bare.output, bare.icount), (virt, paging)


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("program,cpus", [("smp.s", 4), ("shootdown.s", 2)])
def test_smp_guests_in_every_mode(program, cpus, core):
    """Several vCPUs: each CPU of the core in guest mode, the same turns as the bare
    machine, the same output and clock."""
    from hypervisor.runner import run_image
    img = load_program(str(ROOT / "guests" / program))
    steps = 3_000_000
    bare = run_image(img, core, "bare", cpus=cpus, max_steps=steps)
    assert bare.kind == "poweroff"
    for virt, paging in MODES:
        got = run_image(img, core, "hv", cpus=cpus, max_steps=steps, virt=virt, paging=paging)
        assert (got.kind, got.status, got.output, got.icount, got.regs, got.pc) == \
            (bare.kind, bare.status, bare.output, bare.icount, bare.regs, bare.pc), (virt, paging)
