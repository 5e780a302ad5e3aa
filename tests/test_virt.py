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
