"""One guest virtual machine: its frames of host memory, its real core (always in user mode,
every trap sent to the host), its *virtual* CPU state, and its devices.

The guest's general registers and pc live in the real core: the guest runs directly on it.
What the guest believes about modes and control registers lives here, in `vcr`
(virtual status, evec, epc, cause, badaddr, ptbr, scratch).

Several virtual CPUs (brief §11): the real core is a machine of as many CPUs, taking the
same turns of the same quantum as the bare machine would, so an SMP guest runs the same
interleaving bare and virtualized. Each vCPU (`vm.vcpus[i]`) has its own virtual control
registers and its own shadow tables. Its virtual timer, pending interrupts and the sender
of its pending IPI are kept in its real CPU (`timer_period`, `pending`, `ipi_from`): the
real IE bit mirrors the virtual one and every interrupt cause is a host trap, so the core
ticks the timer, wakes a waiting CPU and stops at exactly the boundary where the bare CPU
would take the interrupt; the hypervisor then injects it (trap.py). `vm.vcr`, `vm.shadow`,
`vm.vtimer_*`, `vm.vpending` are those of the current vCPU: the one whose turn it is, which
is the one that exited.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from vcpu.cores import make_core
from vcpu.devices import DMAError, OutputTail, standard_devices
from vcpu.image import Image, ImageError
from vcpu.isa import DEFAULT_QUANTUM, IRQ_MASK, PAGE_SIZE, STORED_CRS, Cause, Status, boot_cpu

from .shadow import ShadowMMU

M32 = 0xFFFF_FFFF
# Console and disk traffic per guest: a token bucket of bytes, refilled at every slice. A
# guest that empties it loses the rest of its slice, so a flood slows the flooder only; its
# output is unchanged (time is its own instruction count), the others keep their share.
IO_BUCKET = 16384
IO_REFILL = 4096

# The real core sends every trap to the hypervisor, interrupts included.
ALL_TRAPS = sum(1 << int(c) for c in Cause)
IE_BIT = int(Status.IE)


@dataclass
class Stats:
    exits: Counter = field(default_factory=Counter)        # by exit reason / trap cause
    emulated: Counter = field(default_factory=Counter)     # by instruction
    reflected: Counter = field(default_factory=Counter)    # by cause
    injected: Counter = field(default_factory=Counter)     # by cause
    core_time: float = 0.0                                 # seconds inside core.run
    hv_time: float = 0.0                                   # seconds handling exits
    slices: int = 0
    throttled: int = 0                                     # slices cut short by the bucket
    host_cut: int = 0                                      # slices cut short by host time
    waited: int = 0                                        # turns sat out: host share spent
    cpu_exits: Counter = field(default_factory=Counter)    # exits by vCPU (SMP guests)


class VCPU:
    """What one virtual CPU believes: its control registers; its shadow tables."""

    def __init__(self, index: int):
        self.index = index
        self.vcr = [0] * STORED_CRS
        self.shadow: ShadowMMU | None = None


# The ways to virtualize (--virt, --paging); the first is the default.
MODES = [("trap", "shadow"), ("hw", "shadow"), ("hw", "nested")]


class VM:
    hw = False                 # hwvm.HwVM: the core runs the guest in guest mode

    def __init__(self, name: str, image: Image, pool, *, mem_size: int, core: str = "c",
                 console_write=None, console_input=None, disk: str | None = None,
                 weight: int = 1, symbols=None, cpus: int = 1,
                 quantum: int = DEFAULT_QUANTUM):
        if mem_size % PAGE_SIZE or mem_size <= 0:
            raise ValueError(f"{name}: guest memory must be a positive multiple of 4K")
        if image.too_big(mem_size):
            raise ImageError(f"guest {name}: {image.too_big(mem_size)}")
        self.name = name
        self.image = image
        self.mem_size = mem_size
        self.weight = weight
        self.pool = pool
        self.frames = pool.alloc(mem_size // PAGE_SIZE)
        self.core = make_core(core, memory=pool.mem, cpus=cpus, quantum=quantum)
        self.core.host_traps = ALL_TRAPS
        self.vcpus = [self.make_vcpu(i) for i in range(cpus)]
        self.smp = cpus > 1
        self.stats = Stats()
        self.state = "running"         # running | stopped
        self.stop_kind = ""            # poweroff | max-steps | shutdown | wfi | error
        self.status = 0
        self.reason = ""
        self.output = OutputTail()      # bounded: the console streams the rest
        self.tracing = False               # the host sets it when a tracer is attached
        self.io_tokens = IO_BUCKET
        self.host_charge = 0.0             # host seconds its slices cost, / weight (host.py)
        self.throttled = False
        self._console_write = console_write
        # Shadow tables per vCPU (shadow.py): each vCPU has its own mode, ptbr and TLB
        # contract; the physical view is the same for all and built once.
        first = None
        for v in self.vcpus:
            v.shadow = first = self.make_mmu(pool, v.index, first)
        for addr, data in image.segments:
            self.dma_write(addr, data)
        # Boot state as the bare machine defines it, on every vCPU, kept in the virtual
        # registers.
        for v, cpu in zip(self.vcpus, self.core.cpus):
            boot_cpu(cpu, image.entry, mem_size)
            v.vcr[0], cpu.cr[0] = cpu.cr[0], int(Status.PG)   # real: user mode, paging on
            v.shadow.activate()
        self.bus = standard_devices(self, self._write_console, console_input, disk)
        self.stops: list[tuple[int, object]] = []    # (instruction count, callback), sorted

    def at(self, n: int, fn) -> None:
        """Call `fn(vm)` at the instruction boundary where the guest's count reaches `n`
        (snapshots, core switches, migration); the host ends the core's budget there."""
        self.stops.append((n, fn))
        self.stops.sort(key=lambda s: s[0])

    def make_vcpu(self, index: int) -> VCPU:
        return VCPU(index)

    def make_mmu(self, pool, index: int, share):
        """The MMU of vCPU `index` (`share`: the first vCPU's, whose physical view all use)."""
        return ShadowMMU(self, pool, index, share=share)

    # --- guest-physical memory -----------------------------------------------------------
    def _host(self, gpa: int) -> int:
        return self.frames[gpa >> 12] + (gpa & 0xFFF)

    def read_phys32(self, gpa: int) -> int | None:
        """A word of guest-physical memory, or None outside the guest (a walk that faults)."""
        if gpa + 4 > self.mem_size:
            return None
        h = self._host(gpa)
        return int.from_bytes(self.pool.mem[h:h + 4], "little")

    def charge_io(self, nbytes: int) -> None:
        self.io_tokens -= nbytes
        if self.io_tokens <= 0:
            self.throttled = True

    def refill_io(self) -> None:
        self.io_tokens = min(IO_BUCKET, self.io_tokens + IO_REFILL * self.weight)
        self.throttled = False

    def dma_read(self, gpa: int, n: int) -> bytes:
        if gpa + n > self.mem_size:
            raise DMAError
        self.charge_io(n)
        out = bytearray()
        while n:
            k = min(n, PAGE_SIZE - (gpa & 0xFFF))
            h = self._host(gpa)
            out += self.pool.mem[h:h + k]
            gpa, n = gpa + k, n - k
        return bytes(out)

    def dma_write(self, gpa: int, data: bytes) -> None:
        if gpa + len(data) > self.mem_size:
            raise DMAError
        self.charge_io(len(data))
        pos = 0
        while pos < len(data):
            k = min(len(data) - pos, PAGE_SIZE - (gpa & 0xFFF))
            h = self._host(gpa)
            self.pool.mem[h:h + k] = data[pos:pos + k]
            gpa, pos = gpa + k, pos + k

    # --- platform interface for the devices ---------------------------------------------
    def _write_console(self, data: bytes) -> None:
        self.output += data
        self.charge_io(len(data))
        if self._console_write:
            self._console_write(self, data)

    def set_timer(self, period: int) -> None:
        self.core.set_timer(period)            # the current vCPU's (see the module doc)

    def raise_irq(self, bits: int) -> None:
        self.core.raise_irq(bits & IRQ_MASK)   # device interrupts go to vCPU 0

    def send_ipi(self, target: int) -> None:
        self.core.send_ipi(target)             # from the current vCPU; ignored if none

    # --- the current vCPU ------------------------------------------------------------------
    @property
    def vcpu(self) -> VCPU:
        return self.vcpus[self.core.cur]

    @property
    def vcr(self) -> list:
        return self.vcpus[self.core.cur].vcr

    @vcr.setter
    def vcr(self, v: list) -> None:
        self.vcpus[self.core.cur].vcr = v

    @property
    def shadow(self) -> ShadowMMU:
        return self.vcpus[self.core.cur].shadow

    def sync_ie(self) -> None:
        """The real IE bit follows the current vCPU's virtual IE: the core then stops for
        an interrupt exactly where the bare CPU would take it."""
        cr = self.core.cr
        cr[0] = (cr[0] & ~IE_BIT) | (self.vcpus[self.core.cur].vcr[0] & IE_BIT)

    vtimer_period = property(lambda self: self.core.timer_period,
                             lambda self, v: setattr(self.core, "timer_period", v))
    vtimer_next = property(lambda self: self.core.timer_next,
                           lambda self, v: setattr(self.core, "timer_next", v))
    vpending = property(lambda self: self.core.pending,
                        lambda self, v: setattr(self.core, "pending", v))
    vipi_from = property(lambda self: self.core.ipi_from,
                         lambda self, v: setattr(self.core, "ipi_from", v))

    def power_off(self, status: int) -> None:
        self.stop("poweroff", "powered off", status & M32)

    # --- lifecycle -----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.state == "running"

    def stop(self, kind: str, reason: str, status: int = 0) -> None:
        if self.state != "running":
            return
        self.state = "stopped"
        self.stop_kind = kind
        self.reason = reason
        self.status = status
        self.bus.close()

    def final_state(self) -> dict:
        """What a guest can observe of itself: registers, pc, virtual control registers."""
        return {"regs": list(self.core.regs), "pc": self.core.pc, "cr": list(self.vcr),
                "icount": self.core.icount}
