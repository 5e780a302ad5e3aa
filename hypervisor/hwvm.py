"""`--virt hw`: a guest on a core in guest mode, like VT-x or AMD-V.

Under trap-and-emulate (vm.py, trap.py, emulate.py) the guest kernel runs in real user mode
and every privileged instruction exits to Python. In guest mode each real CPU itself holds
its vCPU's control registers, timer and pending interrupts (the guest-state area: the CPU's
own `cr`, `timer_*`, `pending`, so `vcpu.vcr` *is* `cpu.cr`) and carries out `mfcr`,
`mtcr`, `cli`, `sti`, `iret`, trap delivery into the guest's `evec` and interrupt injection
exactly as the bare machine does. Only what the exit controls name comes back to the
hypervisor (see "Guest mode" in docs/hypervisor.md):

    exit control          trap+shadow   hw+shadow              hw+nested
    I/O bitmap            (all exit)    all but 0x10, 0x20     all but 0x10, 0x20
    halt                  exits         exits                  exits
    wfi                   exits         in the core            in the core
    mtcr ptbr / PG        exits         exits (shadow flush)   in the core
    tlbflush              exits         exits (shadow flush)   in the core
    page faults           exit          exit (shadow fill)     in the core
    other traps           exit          in the core            in the core
    interrupts            exit, injected in the core           in the core

Port 0x20 (the timer) is the guest-state area's; console output (0x10) is posted to a
buffer in the core that the host drains at every exit (the guest's output, in order, without
an exit per byte: the posted writes of a virtual device).

With tracing on, every control is set: every privileged instruction, trap and interrupt
exits, and the hypervisor handles it with the same code as under trap-and-emulate (it works
on `vm.vcr`, which here is the guest-state area), so the trace shows every event.
"""
from __future__ import annotations

from vcpu.exits import fault_text
from vcpu.guestmode import (GM_EXIT_ALL, GM_EXIT_PTBR, GM_EXIT_TLBFLUSH, NESTED,
                            PORT_CONSOLE_OUT, PORT_TIMER, SHADOW, io_bitmap)
from vcpu.isa import CR, PAGE_SIZE, Exit, Status

from .shadow import TABLE_FRAMES, ShadowMMU
from .vm import ALL_TRAPS, VCPU, VM

KM, PG = int(Status.KM), int(Status.PG)
ST, EV, PTBR = int(CR.status), int(CR.evec), int(CR.ptbr)
PAGE_FAULTS = (1 << 5) | (1 << 6) | (1 << 7)
IO_OUT, IO_IN = Exit.IO_OUT, Exit.IO_IN
EXIT_KEYS = {e: e.name.lower() for e in Exit}      # statistics keys, built once


class HwVCPU(VCPU):
    """A vCPU whose control registers are its real CPU's: the guest-state area."""

    def __init__(self, index: int, cpu):
        self._cpu = cpu
        super().__init__(index)

    @property
    def vcr(self):
        return self._cpu.cr

    @vcr.setter
    def vcr(self, values) -> None:
        cr = self._cpu.cr
        for i in range(min(len(values), len(cr))):
            cr[i] = values[i]


class HwShadowMMU(ShadowMMU):
    """Shadow tables for a CPU in guest mode. The core checks the guest's own mode, so one
    view serves kernel and user mode and its entries carry the guest's U bit; the core
    walks the view from `gm_root` instead of `ptbr` (which holds the guest's own value)."""

    def current_dir(self) -> int:
        return self.kernel_dir if self.vcr[ST] & PG else self.phys_dir

    def entry_rights(self, rights: int) -> int:
        return rights & 6

    def activate(self) -> None:
        cpu = self.cpu
        d = self.current_dir()
        if cpu.gm_root != d:
            cpu.gm_root = d
            cpu.tlb_flush()


class NestedMMU(ShadowMMU):
    """Nested paging: only the host's table of the guest's frames (guest-physical ->
    host-physical), built once and shared by the vCPUs; the core walks the guest's tables
    through it. Nothing to fill, and a flush (the guest's ptbr write or tlbflush, when it
    exits at all) is the CPU's TLB."""

    def __init__(self, vm, pool, index: int = 0, share: "NestedMMU | None" = None):
        self.vm = vm
        self.index = index
        self.mem = pool.mem
        ntables = -(-vm.mem_size // (PAGE_SIZE * 1024))
        # As many frames as the shadow tables take (most stay unused): a guest's share of
        # the pool does not depend on its paging mode.
        if share is None:
            self.frames = pool.alloc(3 + ntables + TABLE_FRAMES)
            self.phys_dir = self.frames[0]
            self._build_phys(self.frames[1:1 + ntables])
        else:
            self.frames = pool.alloc(2 + TABLE_FRAMES)
            self.phys_dir = share.phys_dir
        self.kernel_dir = self.user_dir = None
        self._tables = []
        self._free_tables = []
        self.fills = 0
        self.flushes = 0

    def current_dir(self) -> int:
        return self.phys_dir

    def activate(self) -> None:
        self.cpu.gm_root = self.phys_dir

    def flush(self) -> None:
        self.flushes += 1
        self.cpu.tlb_flush()

    def fill(self, va: int, cause: int) -> bool:
        return False             # a page fault in nested paging is the guest's own


class HwVM(VM):
    """A guest whose CPUs run in guest mode (`--virt hw`)."""

    hw = True

    def __init__(self, name, image, pool, *, paging: str = "shadow", **kw):
        self.paging = paging
        self.exit_all = False        # every control set, as for tracing (a debugger's choice)
        super().__init__(name, image, pool, **kw)
        for v, cpu in zip(self.vcpus, self.core.cpus):
            # The guest-state area starts in the bare machine's boot state: kernel mode,
            # paging off, every control register 0.
            for i in range(len(cpu.cr)):
                cpu.cr[i] = 0
            cpu.cr[ST] = KM
            cpu.gm = NESTED if paging == "nested" else SHADOW
            cpu.tlb_flush()
            v.shadow.activate()
        self.configure_exits()

    def make_vcpu(self, index: int) -> VCPU:
        return HwVCPU(index, self.core.cpus[index])

    def make_mmu(self, pool, index: int, share):
        cls = NestedMMU if self.paging == "nested" else HwShadowMMU
        return cls(self, pool, index, share=share)

    def configure_exits(self) -> None:
        """The exit controls: what the hypervisor must see for this paging mode, or
        everything when the guest is traced or debugged (`exit_all`)."""
        shadow = self.paging == "shadow"
        cpus = self.core.cpus
        # Ports the core handles: the guest's timer; console output, posted to a buffer the
        # host drains at every exit (one CPU only: CPUs' buffers would lose their order).
        in_core = {PORT_TIMER} | ({PORT_CONSOLE_OUT} if len(cpus) == 1 else set())
        for cpu in cpus:
            if self.tracing or self.exit_all:
                cpu.host_traps = ALL_TRAPS
                cpu.gm_ctl = GM_EXIT_ALL
                cpu.gm_io_exit = io_bitmap(range(256))
            else:
                cpu.host_traps = PAGE_FAULTS if shadow else 0
                cpu.gm_ctl = (GM_EXIT_PTBR | GM_EXIT_TLBFLUSH) if shadow else 0
                cpu.gm_io_exit = io_bitmap(p for p in range(256) if p not in in_core)

    def drain_console(self) -> None:
        """The console bytes the guest posted in the core since the last exit, written in
        order before the exit itself is handled."""
        for cpu in self.core.cpus:
            data = cpu.take_console()
            if data:
                self._write_console(data)

    # --- exits other than traps: what the bare machine's run loop does with them ----------
    def handle_exit(self, ex) -> tuple[str, str | None]:
        r = ex.reason
        self.stats.exits[EXIT_KEYS[r]] += 1
        if r is IO_OUT:
            self.bus.write(ex.port, ex.value)
            return "emulate", (f"out port 0x{ex.port:02x} ← 0x{ex.value:x}"
                               if self.tracing else None)
        if r is IO_IN:
            value = self.bus.read(ex.port)
            self.core.regs[ex.reg] = value
            return "emulate", (f"in r{ex.reg} ← port 0x{ex.port:02x} = 0x{value:x}"
                               if self.tracing else None)
        if r is Exit.HALT:
            self.power_off(0)
            return "stop", "halt: power off (status 0)"
        if r is Exit.SHUTDOWN:
            self.stop("shutdown", fault_text(ex.cause, ex.epc, ex.badaddr, self.vcr[EV]))
            return "stop", self.reason
        self.stop("error", f"unexpected exit from the core: {ex.describe()}")
        return "stop", self.reason
