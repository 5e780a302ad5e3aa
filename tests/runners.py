"""Run one image on the bare machine or under the hypervisor and return what a guest shows."""
from __future__ import annotations

from dataclasses import dataclass

from vcpu.devices import ConsoleInput
from vcpu.machine import Machine

from hypervisor.host import Host, frames_needed

MODES = ["bare", "hv"]


@dataclass
class Result:
    kind: str          # poweroff | max-steps | shutdown | wfi | error
    status: int
    output: bytes
    regs: list
    pc: int
    icount: int
    cr: list
    reason: str = ""


def run_image(image, core: str, mode: str, *, mem_size: int = 65536, max_steps: int = 200_000,
              input: bytes = b"", disk=None) -> Result:
    if mode == "bare":
        m = Machine(image, mem_size=mem_size, core=core, console_input=ConsoleInput(input),
                    disk=disk)
        out = m.run(max_steps)
        return Result(out.kind, out.status, bytes(m.output), list(m.core.regs), m.core.pc,
                      m.core.icount, list(m.core.cr), out.message)
    host = Host(frames_needed(mem_size) * 4096)
    vm = host.add("guest", image, mem_size=mem_size, core=core,
                  console_input=ConsoleInput(input), disk=disk)
    host.run(max_steps=max_steps)
    return Result(vm.stop_kind, vm.status, bytes(vm.output), list(vm.core.regs), vm.core.pc,
                  vm.core.icount, list(vm.vcr), vm.reason)
