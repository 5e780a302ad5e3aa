"""Run one image, on the bare machine or under the hypervisor, and return what a guest
shows: the one way tests, benchmarks and guest test suites run a single guest.

    run_image(image, core="c", mode="bare" | "hv", mem_size=..., max_steps=..., input=b"",
              disk=None, trace=None) -> Result

`Result.seconds` is the time of the run alone (building the machine is left out), so the
benchmarks can use it; `Result.stats` and `Result.vm` are the hypervisor's (None bare).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from vcpu.devices import ConsoleInput
from vcpu.isa import DEFAULT_QUANTUM
from vcpu.machine import Machine

from .host import Host, frames_needed
from .vm import VM, Stats

MODES = ("bare", "hv")


@dataclass
class Result:
    kind: str          # poweroff | max-steps | shutdown | wfi | error | interrupted
    status: int        # the power-off status
    output: bytes      # everything the guest wrote to its console
    regs: list
    pc: int
    icount: int
    cr: list           # the control registers the guest sees (virtual ones under hv)
    reason: str = ""   # why it stopped, in words
    seconds: float = 0.0
    stats: Stats | None = None
    vm: VM | None = None


def run_image(image, core: str = "c", mode: str = "bare", *, mem_size: int = 65536,
              max_steps: int | None = 200_000, input: bytes = b"", disk=None,
              trace=None, cpus: int = 1, quantum: int = DEFAULT_QUANTUM,
              virt: str = "trap", paging: str = "shadow") -> Result:
    """Run `image` on `core` ("c" or "py") in `mode` until it stops (or `max_steps`
    instructions, None: no limit). `trace` (under hv only) is a hypervisor.trace.Tracer.
    `cpus`, `quantum`: a machine of several CPUs (brief §11); `regs`, `pc`, `cr` are then
    those of the CPU that stopped the machine, and `icount` is the machine's clock (all CPUs'
    slots together). Under hv, `virt` and `paging` pick the way to virtualize."""
    if mode == "bare":
        m = Machine(image, mem_size=mem_size, core=core, console_input=ConsoleInput(input),
                    disk=disk, cpus=cpus, quantum=quantum)
        t0 = time.perf_counter()
        out = m.run(max_steps)
        dt = time.perf_counter() - t0
        return Result(out.kind, out.status, bytes(m.output), list(m.core.regs), m.core.pc,
                      m.core.slots, list(m.core.cr), out.message, dt)
    if mode != "hv":
        raise ValueError(f"unknown mode {mode!r} (bare or hv)")
    host = Host(frames_needed(mem_size, cpus) * 4096, trace=trace)
    vm = host.add("guest", image, mem_size=mem_size, core=core,
                  console_input=ConsoleInput(input), disk=disk, cpus=cpus, quantum=quantum,
                  virt=virt, paging=paging)
    t0 = time.perf_counter()
    try:
        host.run(max_steps=max_steps)
    finally:
        if vm.running:                 # an exception: still flush the disk, close devices
            host.close()
    dt = time.perf_counter() - t0
    return Result(vm.stop_kind, vm.status, bytes(vm.output), list(vm.core.regs), vm.core.pc,
                  vm.core.slots, list(vm.vcr), vm.reason, dt, vm.stats, vm)
