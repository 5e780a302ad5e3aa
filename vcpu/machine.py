"""The bare machine: one core, its memory and the devices, running one image in real kernel
mode. The core runs until an exit; this loop handles the exit (device I/O, power-off) and
calls `run` again, as a KVM user-space does.
"""
from __future__ import annotations

from dataclasses import dataclass

from .devices import ConsoleInput, DMAError, OutputTail, standard_devices
from .exits import VMExit, fault_text
from .image import Image, ImageError
from .isa import DEFAULT_MEMORY, DEFAULT_QUANTUM, Exit, boot_cpu

M32 = 0xFFFF_FFFF
SLICE = 1 << 20          # instructions per run() call: bounds the latency of --max-steps


class PowerOff(Exception):
    def __init__(self, status: int):
        self.status = status


@dataclass
class Outcome:
    """How a run ended. `kind` is 'poweroff', 'max-steps', 'shutdown' or 'wfi'."""
    kind: str
    status: int = 0
    message: str = ""
    icount: int = 0

    @property
    def ok(self) -> bool:
        return self.kind == "poweroff"


def boot_state(core, image: Image, mem_top: int) -> None:
    """The architectural boot state, on every CPU at once (brief §11): kernel mode,
    everything 0 but sp (the top of memory on all of them) and pc (the entry)."""
    for cpu in core.cpus:
        boot_cpu(cpu, image.entry, mem_top)


def stop_message(ex: VMExit, evec: int, ncpus: int = 1) -> str:
    where = f" on CPU {ex.cpu}" if ncpus > 1 else ""
    return f"machine stopped{where}: " + fault_text(ex.cause, ex.epc, ex.badaddr, evec)


WFI_FOREVER = "machine stopped: wfi with no timer and no interrupt pending would never wake"
WFI_ALL = ("machine stopped: every CPU waits in wfi with no timer and no interrupt pending; "
           "none would ever wake")


def wfi_message(ncpus: int) -> str:
    return WFI_FOREVER if ncpus == 1 else WFI_ALL


class Machine:
    """A bare machine. Also the *platform* its devices talk to."""

    def __init__(self, image: Image, *, mem_size: int = DEFAULT_MEMORY, core: str = "c",
                 console_write=None, console_input: ConsoleInput | None = None,
                 disk: str | None = None, cpus: int = 1, quantum: int = DEFAULT_QUANTUM):
        from .cores import make_core
        self.image = image
        self.core = make_core(core, mem_size=mem_size, cpus=cpus, quantum=quantum)
        if image.too_big(mem_size):
            raise ImageError(image.too_big(mem_size))
        image.load_into(self.core.mem)
        boot_state(self.core, image, mem_size)
        self.output = OutputTail()      # bounded: the console streams the rest
        self._console_write = console_write
        self.bus = standard_devices(self, self._write_console, console_input, disk)
        self.stops: list[tuple[int, object]] = []    # (instruction count, callback), sorted

    def at(self, n: int, fn) -> None:
        """Call `fn(machine)` at the instruction boundary where the count reaches `n`
        (snapshots, core switches, migration): the core runs with a budget ending there.
        With several CPUs the count is the machine's clock, `core.slots`."""
        self.stops.append((n, fn))
        self.stops.sort(key=lambda s: s[0])

    # --- platform interface for the devices ---------------------------------------------
    @property
    def mem_size(self) -> int:
        return self.core.mem_size

    def _write_console(self, data: bytes) -> None:
        self.output += data
        if self._console_write:
            self._console_write(data)

    def set_timer(self, period: int) -> None:
        self.core.set_timer(period)

    def raise_irq(self, bits: int) -> None:
        self.core.raise_irq(bits)

    def dma_read(self, gpa: int, n: int) -> bytes:
        if gpa + n > self.core.mem_size:
            raise DMAError
        return bytes(self.core.mem[gpa:gpa + n])

    def dma_write(self, gpa: int, data: bytes) -> None:
        if gpa + len(data) > self.core.mem_size:
            raise DMAError
        self.core.mem[gpa:gpa + len(data)] = data

    def send_ipi(self, target: int) -> None:
        self.core.send_ipi(target)      # from the CPU doing the out; ignored if none

    def power_off(self, status: int) -> None:
        raise PowerOff(status)

    # --- the run loop --------------------------------------------------------------------
    def run(self, max_steps: int | None = None) -> Outcome:
        """Run until the machine stops. `max_steps` bounds the machine's clock: the slots
        of all its CPUs together (its instruction count, with one CPU)."""
        core = self.core
        stops = self.stops
        try:
            while True:
                now = core.slots
                while stops and now >= stops[0][0]:
                    stops.pop(0)[1](self)
                    core = self.core           # a callback may have switched cores
                    now = core.slots
                budget = SLICE
                if stops:
                    budget = min(budget, stops[0][0] - now)
                if max_steps is not None:
                    budget = min(budget, max_steps - now)
                    if budget <= 0:
                        return Outcome("max-steps", message=f"stopped after {max_steps} "
                                       f"instructions (--max-steps)", icount=now)
                ex = core.run(budget)
                r = ex.reason
                if r == Exit.BUDGET:
                    continue
                if r == Exit.IO_OUT:
                    self.bus.write(ex.port, ex.value)
                elif r == Exit.IO_IN:
                    core.regs[ex.reg] = self.bus.read(ex.port)
                elif r == Exit.HALT:
                    return Outcome("poweroff", 0, icount=core.slots)
                elif r == Exit.WFI:
                    return Outcome("wfi", message=wfi_message(core.ncpus), icount=core.slots)
                elif r == Exit.SHUTDOWN:
                    return Outcome("shutdown", message=stop_message(ex, core.cr[1], core.ncpus),
                                   icount=core.slots)
                else:   # a TRAP exit needs a host-trap mask, which the bare machine never sets
                    return Outcome("shutdown", message=f"unexpected exit {ex.describe()}",
                                   icount=core.slots)
        except PowerOff as p:
            return Outcome("poweroff", p.status & M32, icount=core.slots)
        finally:
            self.bus.close()
