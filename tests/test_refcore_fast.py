"""The reference core's inline fast path (`vcpu/refcore.py: _fast`) restates the commonest
instructions for speed. The specification is `_step`; this test holds the two equal: random
machines run step by step on two reference cores, one with the fast path off, and their whole
state (registers, control registers, TLB, timer, pending interrupts, clock, memory) must be
the same after every instruction."""
from __future__ import annotations

import random

import pytest

from vcpu.isa import Exit
from vcpu.refcore import RefCore

from .test_lockstep import RandomSource, machine

STOP = (Exit.HALT, Exit.WFI, Exit.SHUTDOWN, Exit.TRAP)


def _core(ms, mem, state, fast: bool) -> RefCore:
    core = RefCore(ms)
    core.mem[:] = mem
    core.set_state(state)
    for cpu in core.cpus:
        cpu.fast_path = fast
    return core


def _compare(seed: int, steps: int) -> int:
    ms, mem, state, _, _ = machine(RandomSource(random.Random(seed)))
    spec, fast = _core(ms, mem, state, False), _core(ms, mem, state, True)
    for step in range(steps):
        a, b = spec.run(1), fast.run(1)
        assert (a.reason, a.port, a.value, a.reg, a.cause, a.epc, a.badaddr) == \
               (b.reason, b.port, b.value, b.reg, b.cause, b.epc, b.badaddr), \
               f"seed {seed}, step {step}: exits differ: {a} / {b}"
        sa, sb = spec.get_state(), fast.get_state()
        assert sa == sb, f"seed {seed}, step {step}: state differs"
        if step % 16 == 0 or a.reason is not Exit.BUDGET:
            assert spec.mem == fast.mem, f"seed {seed}, step {step}: memory differs"
        if a.reason is Exit.IO_IN:
            for core in (spec, fast):
                core.regs[a.reg] = 0xFFFF_FFFF
        if a.reason in STOP:
            return step + 1
    return steps


@pytest.mark.parametrize("chunk", range(4))
def test_fast_path_equals_the_specification(chunk):
    total = sum(_compare(seed, 3000) for seed in range(chunk * 50, chunk * 50 + 50))
    assert total > 2000          # the machines really ran (most stop early on a trap)


def test_the_fast_path_is_taken():
    """With paging off, straight-line arithmetic goes through `_fast` (else this test file
    would compare the specification with itself)."""
    import vcpu.refcore as rc
    calls = 0
    real = rc._fast

    def counting(*a):
        nonlocal calls
        calls += 1
        return real(*a)
    rc._fast = counting
    try:
        core = RefCore(4096)
        core.mem[0:6] = bytes([0x02, 0x10, 7, 0, 0, 0])      # li r1, 7
        core.mem[6:9] = bytes([0x10, 0x11, 0x10])             # add r1, r1, r1
        core.set_state({**core.get_state()})
        core.run(2)
    finally:
        rc._fast = real
    assert calls == 2 and core.regs[1] == 14
