"""The native core behind RefCore's Python surface.

`NativeCore` wraps `struct hv_machine` (native/core.h) from the cffi extension `vcpu._core`,
and each of its `cpus` (a `NativeCPU`) one `struct hv_cpu` of it.
Memory is a Python bytearray handed to C with `ffi.from_buffer`: no copies, and several
cores may share one buffer. `regs` and `cr` are cffi arrays: `core.regs[3] = 5`,
`list(core.regs)` and slicing work as on a list of ints (values must fit in 32 bits).

The extension is optional; import this module only through `vcpu.cores` unless you know it
is built (`vcpu.cores.native_available()`).
"""
from __future__ import annotations

from .exits import VMExit
from .isa import DEFAULT_QUANTUM, IRQ_MASK, STORED_CRS, STATUS_MASK, TLB_ENTRIES, Exit, Irq
from .multi import MultiCore, check_cpus, check_debug

from ._core import ffi, lib  # noqa: E402  (ImportError when the extension is not built)

M32 = 0xFFFF_FFFF
M64 = (1 << 64) - 1
_TLB_EMPTY = 0xFFFF_FFFF

_EXITS = [Exit(i) for i in range(len(Exit))]
# Exits are built by copying a prototype's attribute dict: the same VMExit objects as the
# dataclass constructor makes, at a fraction of the cost on the exit round trip.
_new = object.__new__
_PROTO_BUDGET = VMExit(Exit.BUDGET).__dict__
_PROTO_OUT = VMExit(Exit.IO_OUT).__dict__
_PROTO_IN = VMExit(Exit.IO_IN).__dict__
_PROTO_TRAP = VMExit(Exit.TRAP).__dict__
_BREAK, _WATCH = int(Exit.BREAK), int(Exit.WATCH)


class NativeCPU:
    """One CPU of a native machine: a view of `struct hv_cpu`, with RefCPU's interface."""

    name = "c"

    def __init__(self, machine: "NativeCore", index: int):
        self._owner = machine                    # keeps the C struct alive
        self._cpu = ffi.addressof(machine._m.cpus[index])
        self.mem = machine.mem
        self.mem_size = machine.mem_size
        self.regs = self._cpu.regs
        self.cr = self._cpu.cr
        self.cpuid = index

    # --- scalar state ----------------------------------------------------------------------
    @property
    def pc(self) -> int:
        return self._cpu.pc

    @pc.setter
    def pc(self, v: int) -> None:
        self._cpu.pc = v & M32

    @property
    def icount(self) -> int:
        return self._cpu.icount

    @icount.setter
    def icount(self, v: int) -> None:
        self._cpu.icount = v

    @property
    def timer_period(self) -> int:
        return self._cpu.timer_period

    @timer_period.setter
    def timer_period(self, v: int) -> None:
        self._cpu.timer_period = v

    @property
    def timer_next(self) -> int:
        return self._cpu.timer_next

    @timer_next.setter
    def timer_next(self, v: int) -> None:
        self._cpu.timer_next = v

    @property
    def pending(self) -> int:
        return self._cpu.pending

    @pending.setter
    def pending(self, v: int) -> None:
        self._cpu.pending = v & IRQ_MASK

    @property
    def idle(self) -> int:
        return self._cpu.idle

    @idle.setter
    def idle(self, v: int) -> None:
        self._cpu.idle = v

    @property
    def waiting(self) -> bool:
        return bool(self._cpu.waiting)

    @waiting.setter
    def waiting(self, v: bool) -> None:
        self._cpu.waiting = 1 if v else 0

    @property
    def ipi_from(self) -> int:
        return self._cpu.ipi_from

    @ipi_from.setter
    def ipi_from(self, v: int) -> None:
        self._cpu.ipi_from = v & M32

    @property
    def host_traps(self) -> int:
        return self._cpu.host_traps

    @host_traps.setter
    def host_traps(self, v: int) -> None:
        self._cpu.host_traps = v & M32

    @property
    def tlb(self) -> list:
        """The TLB as RefCore holds it: per slot None or (vpn, frame, rights)."""
        out = []
        for e in self._cpu.tlb:
            out.append((e.vpn, e.frame, e.rights) if e.valid else None)
        return out

    # --- state as plain data ----------------------------------------------------------------
    def get_state(self) -> dict:
        c = self._cpu
        return {"regs": list(c.regs), "pc": c.pc, "cr": list(c.cr),
                "icount": c.icount, "idle": c.idle, "timer_period": c.timer_period,
                "timer_next": c.timer_next, "pending": c.pending,
                "ipi_from": c.ipi_from, "waiting": bool(c.waiting),
                "host_traps": c.host_traps,
                "tlb": [[e.vpn, e.frame, e.rights] if e.valid else None for e in c.tlb]}

    def set_state(self, s: dict) -> None:
        c = self._cpu
        regs = s["regs"]
        crs = s["cr"]
        tlb = s["tlb"]
        if len(regs) != 16 or len(crs) != STORED_CRS or len(tlb) != TLB_ENTRIES:
            raise ValueError("state has the wrong number of registers or TLB entries")
        for i, v in enumerate(regs):
            c.regs[i] = v & M32
        c.pc = s["pc"] & M32
        for i, v in enumerate(crs):
            c.cr[i] = v & M32
        c.cr[0] &= STATUS_MASK
        c.icount = s["icount"]
        c.timer_period = s["timer_period"]
        c.timer_next = s["timer_next"]
        c.pending = s["pending"] & IRQ_MASK
        c.ipi_from = s.get("ipi_from", 0) & M32
        c.waiting = 1 if s.get("waiting", False) else 0
        c.idle = s.get("idle", 0)
        c.host_traps = s["host_traps"]
        for i, e in enumerate(tlb):
            t = c.tlb[i]
            if e:
                t.vpn, t.frame, t.rights = e
                t.valid = 1
            else:
                t.vpn, t.frame, t.rights, t.valid = _TLB_EMPTY, 0, 0, 0

    def set_debug(self, breakpoints=(), watchpoints=()) -> None:
        """Set (or, with nothing, clear) this CPU's breakpoint addresses and watched
        ranges, each (address, length, mask: WATCH_READ | WATCH_WRITE); RefCPU.set_debug
        and refcore's docstring say what they do. Not part of get_state."""
        breaks, watches = check_debug(breakpoints, watchpoints)
        c = self._cpu
        c.nbreak = c.nwatch = 0                 # nothing half-set if the writes fail
        for i, pc in enumerate(sorted(breaks)):
            c.break_pc[i] = pc
        for i, (lo, hi, mask) in enumerate(watches):
            c.watch_lo[i] = lo
            c.watch_last[i] = hi - 1
            c.watch_mask[i] = mask
        c.nbreak = len(breaks)
        c.nwatch = len(watches)

    def set_timer(self, period: int) -> None:
        """What `out 0x20, period` does: from the next instruction on, every `period`."""
        c = self._cpu
        c.timer_period = period & M32
        c.timer_next = c.icount + (period & M32)

    def raise_irq(self, bits: int) -> None:
        self._cpu.pending |= bits & IRQ_MASK

    def receive_ipi(self, sender: int) -> None:
        """An IPI from CPU `sender` arrives; at most one is pending (a second one is lost,
        the first sender stays in badaddr)."""
        c = self._cpu
        if not c.pending & Irq.IPI:
            c.pending |= Irq.IPI
            c.ipi_from = sender & M32

    def tlb_flush(self) -> None:
        lib.hv_tlb_flush(self._cpu)

    # --- guest mode (vcpu/guestmode.py): the VMCS-like fields, as RefCore has them ------------
    gm = property(lambda self: self._cpu.gm, lambda self, v: setattr(self._cpu, "gm", v))
    gm_ctl = property(lambda self: self._cpu.gm_ctl,
                      lambda self, v: setattr(self._cpu, "gm_ctl", v))
    gm_root = property(lambda self: self._cpu.gm_root,
                       lambda self, v: setattr(self._cpu, "gm_root", v & M32))
    tlb_misses = property(lambda self: self._cpu.tlb_misses)
    walk_refs = property(lambda self: self._cpu.walk_refs)

    @property
    def gm_io_exit(self):
        return self._cpu.gm_io_exit

    @gm_io_exit.setter
    def gm_io_exit(self, words) -> None:
        for i, w in enumerate(words):
            self._cpu.gm_io_exit[i] = w & M32

    def take_console(self) -> bytes:
        """Guest mode: the console bytes posted since the last call (the buffer empties)."""
        c = self._cpu
        n = c.gm_con_len
        if not n:
            return b""
        c.gm_con_len = 0
        return bytes(ffi.buffer(c.gm_con, n))

    def retire(self, length: int) -> None:
        """Retire an instruction of `length` bytes that the host carried out for the core."""
        c = self._cpu
        c.pc = (c.pc + length) & M32
        c.icount += 1

    def translate(self, vaddr: int, kind: int) -> int:
        """Physical address of one byte, as an access of `kind` (5, 6, 7) would see it
        (filling the TLB on a walk). Raises LookupError(cause) on a page fault."""
        p = ffi.new("uint32_t *")
        f = lib.hv_translate(self._cpu, vaddr & M32, kind, p)
        if f:
            raise LookupError(f)
        return p[0]



class NativeCore(MultiCore):
    """The C machine (`struct hv_machine`): RefCore's interface, the turns run in C."""

    name = "c"

    def __init__(self, mem_size: int = 65536, memory: bytearray | None = None, *,
                 cpus: int = 1, quantum: int = DEFAULT_QUANTUM):
        check_cpus(cpus, quantum)
        self.mem = memory if memory is not None else bytearray(mem_size)
        self.mem_size = len(self.mem)
        if self.mem_size > M32:
            raise ValueError("memory larger than 4 GiB")
        self._m = ffi.new("struct hv_machine *")
        # The cdata keeps the bytearray's buffer exported (it cannot be resized under us).
        self._buf = ffi.from_buffer("uint8_t[]", self.mem, require_writable=True)
        lib.hv_machine_init(self._m, self._buf if self.mem_size else ffi.NULL, self.mem_size,
                            cpus, quantum)
        self.cpus = [NativeCPU(self, i) for i in range(cpus)]
        self._run = lib.hv_machine_run_packed
        self._insn_bufs = [ffi.buffer(c._cpu.exit_insn) for c in self.cpus]

    # --- the scheduler's fields live in the C struct ------------------------------------------
    @property
    def cur(self) -> int:
        return self._m.cur

    @property
    def turn_end(self) -> int:
        return self._m.turn_end

    @property
    def quantum(self) -> int:
        return self._m.quantum

    def _set_sched(self, cur: int, turn_end: int, quantum: int) -> None:
        check_cpus(len(self.cpus), quantum)
        self._m.cur, self._m.turn_end, self._m.quantum = cur, turn_end, quantum

    @property
    def _cpu(self):
        """The current CPU's `struct hv_cpu *` (for tools that read the struct directly)."""
        return self.cpus[self._m.cur]._cpu

    @property
    def _insn_buf(self):
        return self._insn_bufs[self._m.cur]

    # --- running ----------------------------------------------------------------------------
    def run(self, budget: int) -> VMExit:
        """Run the CPUs' turns until an exit, or until `budget` slots have passed."""
        try:
            r = self._run(self._m, budget)
        except (OverflowError, TypeError):
            if not isinstance(budget, int):
                raise TypeError("budget must be an int") from None
            if budget < 0:
                raise ValueError("budget must be >= 0") from None
            r = self._run(self._m, M64)          # more than 2**64 - 1: as good as forever
        k = r & 255
        cpu = (r >> 24) & 255
        if k == 0:
            e = _new(VMExit)
            d = e.__dict__ = _PROTO_BUDGET.copy()
            if cpu:                  # the prototypes say CPU 0
                d["cpu"] = cpu
            return e
        if k == 2:
            e = _new(VMExit)
            d = e.__dict__ = _PROTO_OUT.copy()
            d["port"] = (r >> 8) & 255
            d["value"] = r >> 32
            if cpu:
                d["cpu"] = cpu
            return e
        if k == 3:
            e = _new(VMExit)
            d = e.__dict__ = _PROTO_IN.copy()
            d["port"] = (r >> 8) & 255
            d["reg"] = (r >> 16) & 255
            if cpu:
                d["cpu"] = cpu
            return e
        c = self._m.cpus[cpu]
        if k == 5:
            e = _new(VMExit)
            d = e.__dict__ = _PROTO_TRAP.copy()
            d["cause"] = (r >> 8) & 255
            d["epc"] = c.pc
            d["badaddr"] = r >> 32
            d["insn"] = self._insn_bufs[cpu][:(r >> 16) & 255]
            if cpu:
                d["cpu"] = cpu
            return e
        if k == 6:
            return VMExit(Exit.SHUTDOWN, cause=c.exit_cause, epc=c.exit_epc,
                          badaddr=c.exit_badaddr, cpu=cpu)
        if k == _BREAK:
            return VMExit(Exit.BREAK, epc=c.pc, cpu=cpu)
        if k == _WATCH:
            return VMExit(Exit.WATCH, cause=(r >> 8) & 255, epc=c.pc, badaddr=r >> 32, cpu=cpu)
        return VMExit(_EXITS[k], cpu=cpu)
