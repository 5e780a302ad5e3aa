"""Fair host time: a guest whose instructions are dear for the host (guests/hostile/) cannot
take the host from its neighbour. The host time fib.s needs to finish beside each of the
worst offenders stays within a few times what it needs alone (the goal is 3x; measured
about 2.5x, see bench/fairness.py and docs/benchmarks.md). The test counts host CPU time
(best of several runs, under 4.5x): wall time on a shared, loaded machine mostly measures
the other processes. The guests' own output is unchanged: time is their instruction
count, not the host's."""
from __future__ import annotations

import time

import pytest

from bench.fairness import fib_time
from tests.conftest import need_native

WORST = ["tlb_storm", "big_dma", "flood", "frame_sweep", "bad_pte"]


@pytest.mark.parametrize("hostile", WORST)
def test_fib_beside_a_hostile_guest_keeps_its_pace(hostile):
    need_native()
    solo = min(fib_time(None, clock=time.process_time) for _ in range(5))
    beside = min(fib_time(hostile, clock=time.process_time) for _ in range(5))
    assert beside < 4.5 * solo, f"fib beside {hostile}: {beside / solo:.1f}x its solo time"


def test_charging_host_time_does_not_change_what_guests_print(tmp_path):
    """A storm's slices are cut by host time, at different points on every run: the output
    and instruction count stay those of the guest alone."""
    from asm.loader import load_program
    from hypervisor.host import Host, frames_needed
    from tests.test_isolation import GUESTS, HOSTILE
    fib = load_program(GUESTS / "fib.s")
    storm = load_program(HOSTILE / "tlb_storm.s")
    host = Host(2 * frames_needed(65536) * 4096)
    a = host.add("fib", fib, mem_size=65536)
    b = host.add("storm", storm, mem_size=65536)
    host.run(max_steps=300_000)
    assert bytes(a.output) == (GUESTS / "expected" / "fib.out").read_bytes()
    assert bytes(b.output) == b"storming the TLB\n" and b.core.icount == 300_000
    assert b.stats.host_cut + b.stats.waited > 0       # it was held back
