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
