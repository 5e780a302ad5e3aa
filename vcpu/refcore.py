"""The reference core: the whole ISA in plain Python, the executable specification.

The native core (`native/core.c`) must agree with this file instruction for instruction;
the lockstep tests hold it to that. Where the two could differ (TLB contents, the order of
checks inside an instruction, what `badaddr` holds for an access that straddles pages)
this file is the definition.

Order of work at every instruction boundary:
  1. budget spent?                 -> exit BUDGET
  2. timer due?                    -> mark the timer interrupt pending
  3. interrupt pending and IE = 1? -> take the lowest pending cause (timer, device, IPI)
  4. fetch the opcode byte, then the rest of the instruction (fetch faults, cause 7),
     undefined opcode (4), privileged in user mode (3), then execute.
A faulting instruction does not retire and leaves no trace but the trap.

Debug support (`set_debug`, for a debugger; none is set on a machine nobody debugs):
  - a *breakpoint* is checked at every boundary that this CPU reached by doing something in
    the current `run` (retiring an instruction, or taking a trap through evec), before
    step 1: pc at a breakpoint address -> exit BREAK, the CPU standing before that
    instruction. The boundary a run starts at is not checked (so resuming at a breakpoint
    goes on), nor is the one after an exit (the host saw the CPU there). A `wfi` that
    waits ends the CPU's run; the machine (`RefCore.run`) checks where it retired to, as
    the CPU starts waiting, and its wake-up is not checked again.
  - a *watchpoint* is checked at every data access, after its translation succeeded (an
    access that faults faults) and before anything is changed: an access of a kind in the
    range's mask (loads read, stores write, xchg both) overlapping the range -> exit WATCH
    (cause = the access's kind bits, epc = pc, badaddr = the access's address); the
    instruction does not retire. To step over it the host clears the watchpoints.
"""
from __future__ import annotations

from .exits import VMExit
from .guestmode import GM_EXIT_ALL, GM_EXIT_PTBR, GM_EXIT_TLBFLUSH, GM_EXIT_WFI
from .multi import NO_TURN_END, MultiCore, check_cpus, check_debug
from .isa import (CR, pde_address, pte_address, DEFAULT_QUANTUM, FAULT_CAUSES, IRQ_BASE_CAUSE, IRQ_MASK, LENGTHS, NUM_CRS,
                  STATUS_MASK, STORED_CRS, TLB_ENTRIES, WATCH_READ, WATCH_WRITE, Cause, Exit, Irq, Status, irq_to_deliver,
                  is_double_fault, status_on_iret, status_on_trap)

M32 = 0xFFFF_FFFF
KM, IE, PG, PKM, PIE = (int(Status.KM), int(Status.IE), int(Status.PG), int(Status.PKM),
                        int(Status.PIE))
P_BIT, W_BIT, U_BIT = 1, 2, 4
READ, WRITE, FETCH = 5, 6, 7      # access kinds are their page-fault causes
INT_MIN = 0x8000_0000
ST, EV, EPC, CAU, BAD, PTBR = (int(CR.status), int(CR.evec), int(CR.epc), int(CR.cause),
                               int(CR.badaddr), int(CR.ptbr))


class _Watch(Exception):
    """A data access touches a watched range: the instruction stops for the host."""

    def __init__(self, kind: int, vaddr: int):
        self.kind = kind
        self.vaddr = vaddr


class _Trap(Exception):
    """Raised inside an instruction; caught by the run loop, which takes the trap."""

    def __init__(self, cause: int, badaddr: int = 0):
        self.cause = cause
        self.badaddr = badaddr


def _signed(v: int) -> int:
    return v - 0x1_0000_0000 if v & 0x8000_0000 else v


def sdiv(a: int, b: int) -> tuple[int, int]:
    """Signed 32-bit quotient and remainder, truncating toward zero."""
    if a == INT_MIN and b == M32:
        return INT_MIN, 0
    sa, sb = _signed(a), _signed(b)
    q = abs(sa) // abs(sb)
    if (sa < 0) != (sb < 0):
        q = -q
    return q & M32, (sa - q * sb) & M32


_ALU = (
    lambda a, b: (a + b) & M32,
    lambda a, b: (a - b) & M32,
    lambda a, b: (a * b) & M32,
    None, None, None, None,                   # the divisions: they can trap, see _alu
    lambda a, b: a & b,
    lambda a, b: a | b,
    lambda a, b: a ^ b,
    lambda a, b: (a << (b & 31)) & M32,
    lambda a, b: a >> (b & 31),
    lambda a, b: (_signed(a) >> (b & 31)) & M32,
    None, None, None,
)
_FROM = int.from_bytes


def _fast(core, regs, mem, size, pc) -> bool:
    """One instruction that cannot trap, with paging off and the whole instruction in
    memory: the common case, done inline. Returns False (having changed nothing) for
    anything else, which then takes the specification path, `_step`."""
    op = mem[pc]
    if 0x10 <= op <= 0x2C:
        fn = _ALU[op & 0x0F]
        if fn is None or LENGTHS[op] == 0:
            return False
        b = regs[mem[pc + 2] >> 4] if op < 0x20 else _FROM(mem[pc + 2:pc + 6], "little")
        regs[mem[pc + 1] >> 4] = fn(regs[mem[pc + 1] & 15], b)
        npc = pc + (3 if op < 0x20 else 6)
    elif 0x40 <= op <= 0x45:
        a, b = regs[mem[pc + 1] >> 4], regs[mem[pc + 1] & 15]
        if op == 0x40:
            taken = a == b
        elif op == 0x41:
            taken = a != b
        elif op == 0x42:
            taken = _signed(a) < _signed(b)
        elif op == 0x43:
            taken = _signed(a) >= _signed(b)
        elif op == 0x44:
            taken = a < b
        else:
            taken = a >= b
        npc = _FROM(mem[pc + 2:pc + 6], "little") if taken else pc + 6
    elif 0x30 <= op <= 0x36 and op != 0x33:
        addr = (regs[mem[pc + 1] & 15] + _FROM(mem[pc + 2:pc + 6], "little")) & M32
        width = (4, 2, 1)[op & 3]
        if addr + width > size:
            return False
        if op < 0x34:
            regs[mem[pc + 1] >> 4] = _FROM(mem[addr:addr + width], "little")
        else:
            v = regs[mem[pc + 1] >> 4] & ((1 << 8 * width) - 1)
            mem[addr:addr + width] = v.to_bytes(width, "little")
        npc = pc + 6
    elif op == 0x02:
        regs[mem[pc + 1] >> 4] = _FROM(mem[pc + 2:pc + 6], "little")
        npc = pc + 6
    elif op == 0x03:
        regs[mem[pc + 1] >> 4] = regs[mem[pc + 1] & 15]
        npc = pc + 2
    elif op == 0x48:
        npc = _FROM(mem[pc + 1:pc + 5], "little")
    elif op == 0x49:
        npc = regs[mem[pc + 1] >> 4]
    elif op == 0x4A or op == 0x4B or op == 0x50:          # call label, call ra, push
        sp = (regs[15] - 4) & M32
        if sp + 4 > size:
            return False
        if op == 0x50:
            value, npc = regs[mem[pc + 1] >> 4], pc + 2
        else:
            value = pc + (5 if op == 0x4A else 2)
            npc = _FROM(mem[pc + 1:pc + 5], "little") if op == 0x4A else regs[mem[pc + 1] >> 4]
        mem[sp:sp + 4] = value.to_bytes(4, "little")
        regs[15] = sp
    elif op == 0x4C or op == 0x51:                        # ret, pop
        sp = regs[15]
        if sp + 4 > size:
            return False
        v = _FROM(mem[sp:sp + 4], "little")
        regs[15] = (sp + 4) & M32
        if op == 0x4C:
            npc = v
        else:
            regs[mem[pc + 1] >> 4] = v
            npc = pc + 2
    elif op == 0x01:
        npc = pc + 1
    else:
        return False
    core.pc = npc & M32
    core.icount += 1
    return True


class RefCPU:
    """One CPU: its registers, control registers, TLB, timer, pending interrupts and clock,
    on a memory it may share with other CPUs. `run(budget)` runs this CPU alone; a `wfi`
    with nothing pending returns a WFI exit, and waiting is the machine's business
    (`RefCore.run`)."""

    # `_fast` restates the commonest instructions for speed; tests/test_refcore_fast.py runs
    # random machines with it off and on and requires the same state after every step.
    fast_path = True
    name = "py"

    def __init__(self, mem_size: int = 65536, memory: bytearray | None = None, cpuid: int = 0):
        self.mem = memory if memory is not None else bytearray(mem_size)
        self.mem_size = len(self.mem)
        self.regs = [0] * 16
        self.pc = 0
        self.cr = [0] * STORED_CRS
        self.icount = 0
        self.timer_period = 0
        self.timer_next = 0
        self.pending = 0
        self.ipi_from = 0            # badaddr of the pending IPI: its sender
        self.cpuid = cpuid
        self.waiting = False         # stopped in wfi until an interrupt of its own is pending
        self.idle = 0                # idle slots (counted in icount too)
        self.host_traps = 0          # bit c set: a trap with cause c exits to the host
        self.tlb = [None] * TLB_ENTRIES   # entry: (vpn, frame, rights)
        # Guest mode (vcpu/guestmode.py): 0 on the bare machine.
        self.gm = 0                  # 1 guest mode with shadow paging, 2 with nested paging
        self.gm_ctl = 0              # exit controls
        self.gm_root = 0             # shadow directory, or the host's table of guest frames
        self.gm_io_exit = [0] * 8    # I/O bitmap: bit p set = in/out on port p exits
        self.gm_con = bytearray()    # console bytes posted in guest mode (at most 256)
        self.tlb_misses = 0          # page-table walks, and the memory references they made
        self.walk_refs = 0
        # Debug support (module docstring): host settings, not architectural state.
        self.breaks = frozenset()    # breakpoint addresses
        self.watches = ()            # (lo, hi, mask): watched [lo, hi) for the mask's accesses

    def set_debug(self, breakpoints=(), watchpoints=()) -> None:
        """Set (or, with nothing, clear) this CPU's breakpoint addresses and watched
        ranges, each (address, length, mask: WATCH_READ | WATCH_WRITE)."""
        self.breaks, self.watches = check_debug(breakpoints, watchpoints)

    def _watch(self, vaddr: int, n: int, kind: int) -> None:
        end = vaddr + n
        for lo, hi, mask in self.watches:
            if mask & kind and vaddr < hi and lo < end:
                raise _Watch(kind, vaddr)

    # --- state as plain data (snapshots, migration, lockstep) ----------------------------
    def get_state(self) -> dict:
        return {"regs": list(self.regs), "pc": self.pc, "cr": list(self.cr),
                "icount": self.icount, "idle": self.idle, "timer_period": self.timer_period,
                "timer_next": self.timer_next, "pending": self.pending,
                "ipi_from": self.ipi_from, "waiting": bool(self.waiting),
                "host_traps": self.host_traps,
                "tlb": [list(e) if e else None for e in self.tlb]}

    def set_state(self, s: dict) -> None:
        self.regs = [v & M32 for v in s["regs"]]
        self.pc = s["pc"] & M32
        self.cr = [v & M32 for v in s["cr"]]
        self.cr[ST] &= STATUS_MASK
        self.icount = s["icount"]
        self.timer_period = s["timer_period"]
        self.timer_next = s["timer_next"]
        self.pending = s["pending"] & IRQ_MASK
        self.ipi_from = s.get("ipi_from", 0) & M32
        self.waiting = bool(s.get("waiting", False))
        self.idle = s.get("idle", 0)
        self.host_traps = s["host_traps"]
        self.tlb = [tuple(e) if e else None for e in s["tlb"]]

    def set_timer(self, period: int) -> None:
        """What `out 0x20, period` does: from the next instruction on, every `period`."""
        self.timer_period = period & M32
        self.timer_next = self.icount + self.timer_period

    def raise_irq(self, bits: int) -> None:
        self.pending |= bits & IRQ_MASK

    def receive_ipi(self, sender: int) -> None:
        """An IPI from CPU `sender` arrives; at most one is pending (a second one is lost,
        the first sender stays in badaddr)."""
        if not self.pending & Irq.IPI:
            self.pending |= Irq.IPI
            self.ipi_from = sender & M32

    def tlb_flush(self) -> None:
        self.tlb = [None] * TLB_ENTRIES

    def retire(self, length: int) -> None:
        """Retire an instruction of `length` bytes that the host carried out for the core."""
        self.pc = (self.pc + length) & M32
        self.icount += 1

    # --- memory --------------------------------------------------------------------------
    def _walk(self, vaddr: int, kind: int) -> tuple[int, int]:
        """Page-table walk on a TLB miss: (frame address, rights) or a page fault."""
        if self.gm:
            return self._gm_walk(vaddr, kind)
        self.tlb_misses += 1
        size = self.mem_size
        mem = self.mem
        pde_addr = pde_address(self.cr[PTBR], vaddr)
        if pde_addr + 4 > size:
            raise _Trap(kind, vaddr)
        pde = int.from_bytes(mem[pde_addr:pde_addr + 4], "little")
        self.walk_refs += 1
        if not pde & P_BIT:
            raise _Trap(kind, vaddr)
        pte_addr = pte_address(pde, vaddr)
        if pte_addr + 4 > size:
            raise _Trap(kind, vaddr)
        pte = int.from_bytes(mem[pte_addr:pte_addr + 4], "little")
        self.walk_refs += 1
        if not pte & P_BIT:
            raise _Trap(kind, vaddr)
        entry = (vaddr >> 12, pte & 0xFFFF_F000, pde & pte & (W_BIT | U_BIT))
        self.tlb[(vaddr >> 12) % TLB_ENTRIES] = entry
        return entry[1], entry[2]

    # --- guest mode: the second translation (see "Guest mode" in native/core.c) ----------
    def _host_walk(self, addr: int):
        """(host frame, rights) of `addr` in the host-side table at gm_root, or None."""
        mem, size = self.mem, self.mem_size
        de_addr = pde_address(self.gm_root, addr)
        if de_addr + 4 > size:
            return None
        de = int.from_bytes(mem[de_addr:de_addr + 4], "little")
        self.walk_refs += 1
        if not de & P_BIT:
            return None
        te_addr = pte_address(de, addr)
        if te_addr + 4 > size:
            return None
        te = int.from_bytes(mem[te_addr:te_addr + 4], "little")
        self.walk_refs += 1
        if not te & P_BIT or (te & ~0xFFF & M32) + 0x1000 > size:
            return None
        return te & 0xFFFF_F000, de & te & (W_BIT | U_BIT)

    def _gm_walk(self, vaddr: int, kind: int) -> tuple[int, int]:
        self.tlb_misses += 1
        if self.gm == 1:                       # shadow: one walk of the shadow tables
            hit = self._host_walk(vaddr)
            if hit is None:
                raise _Trap(kind, vaddr)
            frame, rights = hit
        else:                                  # nested: the guest's tables, then the host's
            gpa, grights = vaddr & 0xFFFF_F000, W_BIT | U_BIT
            if self.cr[ST] & PG:
                mem = self.mem
                pde_gpa = pde_address(self.cr[PTBR], vaddr)
                hit = self._host_walk(pde_gpa)
                if hit is None:
                    raise _Trap(kind, vaddr)
                h = hit[0] | (pde_gpa & 0xFFF)
                pde = int.from_bytes(mem[h:h + 4], "little")
                self.walk_refs += 1
                if not pde & P_BIT:
                    raise _Trap(kind, vaddr)
                pte_gpa = pte_address(pde, vaddr)
                hit = self._host_walk(pte_gpa)
                if hit is None:
                    raise _Trap(kind, vaddr)
                h = hit[0] | (pte_gpa & 0xFFF)
                pte = int.from_bytes(mem[h:h + 4], "little")
                self.walk_refs += 1
                if not pte & P_BIT:
                    raise _Trap(kind, vaddr)
                gpa, grights = pte & 0xFFFF_F000, pde & pte & (W_BIT | U_BIT)
            hit = self._host_walk(gpa)
            if hit is None:
                raise _Trap(kind, vaddr)
            frame, rights = hit[0], grights & hit[1]
        self.tlb[(vaddr >> 12) % TLB_ENTRIES] = (vaddr >> 12, frame, rights)
        return frame, rights

    def take_console(self) -> bytes:
        """Guest mode: the console bytes posted since the last call (the buffer empties)."""
        data = bytes(self.gm_con)
        self.gm_con.clear()
        return data

    def _gm_exit(self, raw: bytes) -> VMExit:
        """An exit control stops this instruction for the host (not retired)."""
        return VMExit(Exit.TRAP, cause=int(Cause.PRIVILEGED), epc=self.pc, insn=raw)

    def translate(self, vaddr: int, kind: int) -> int:
        """Physical address of one byte, or a page fault of `kind` (5 read, 6 write, 7 fetch)."""
        st = self.cr[ST]
        if st & PG or self.gm:
            e = self.tlb[(vaddr >> 12) % TLB_ENTRIES]
            if e is not None and e[0] == vaddr >> 12:
                frame, rights = e[1], e[2]
            else:
                frame, rights = self._walk(vaddr, kind)
            if (not st & KM and not rights & U_BIT) or (kind == WRITE and not rights & W_BIT):
                raise _Trap(kind, vaddr)
            paddr = frame | (vaddr & 0xFFF)
        else:
            paddr = vaddr
        if paddr >= self.mem_size:
            raise _Trap(kind, vaddr)
        return paddr

    def _span(self, vaddr: int, n: int, kind: int) -> list[int]:
        """Physical addresses of n bytes from vaddr; every byte is checked before any is
        touched, and a fault names the first byte that fails."""
        first = self.translate(vaddr, kind)
        if (vaddr & 0xFFF) + n <= 0x1000 and first + n <= self.mem_size:
            return list(range(first, first + n))
        return [self.translate((vaddr + i) & M32, kind) for i in range(n)]

    def load(self, vaddr: int, n: int, kind: int = READ) -> int:
        mem = self.mem
        if not self.cr[ST] & PG and not self.gm and vaddr + n <= self.mem_size:
            if self.watches:
                self._watch(vaddr, n, WATCH_READ)
            return int.from_bytes(mem[vaddr:vaddr + n], "little")    # the common case
        phys = self._span(vaddr, n, kind)
        if self.watches:
            self._watch(vaddr, n, WATCH_READ)
        return int.from_bytes(bytes(mem[p] for p in phys), "little")

    def store(self, vaddr: int, n: int, value: int) -> None:
        if not self.cr[ST] & PG and not self.gm and vaddr + n <= self.mem_size:
            if self.watches:
                self._watch(vaddr, n, WATCH_WRITE)
            self.mem[vaddr:vaddr + n] = (value & (1 << 8 * n) - 1).to_bytes(n, "little")
            return
        phys = self._span(vaddr, n, WRITE)
        if self.watches:
            self._watch(vaddr, n, WATCH_WRITE)
        for i, p in enumerate(phys):
            self.mem[p] = (value >> (8 * i)) & 0xFF

    # --- traps ---------------------------------------------------------------------------
    def _take_trap(self, cause: int, epc: int, badaddr: int, insn: bytes = b"") -> VMExit | None:
        """Deliver a trap: to the host if its cause is in `host_traps`, else through `evec`.
        Returns an exit when the run loop must return."""
        if self.host_traps >> cause & 1:
            self.pc = epc
            return VMExit(Exit.TRAP, cause=cause, epc=epc, badaddr=badaddr, insn=insn)
        cr = self.cr
        st = cr[ST]
        if is_double_fault(cause, epc, st, cr[EV]):
            self.pc = epc
            return VMExit(Exit.SHUTDOWN, cause=cause, epc=epc, badaddr=badaddr)
        cr[ST] = status_on_trap(st)
        cr[EPC] = epc
        cr[CAU] = cause
        cr[BAD] = badaddr & M32
        self.pc = cr[EV]
        return None

    # --- the run loop --------------------------------------------------------------------
    def run(self, budget: int) -> VMExit:
        """Run until an exit; at most `budget` instructions retire (budget >= 0)."""
        if budget < 0:
            raise ValueError("budget must be >= 0")
        end = self.icount + budget
        regs = self.regs
        cr = self.cr
        mem = self.mem
        size = self.mem_size
        breaks = self.breaks
        fast = self.fast_path and not self.watches
        started = False              # the boundary a run starts at is not a breakpoint check
        while True:
            if breaks and started and self.pc in breaks:
                return VMExit(Exit.BREAK, epc=self.pc)
            started = True
            if self.icount >= end:
                return VMExit(Exit.BUDGET)
            if self.timer_period and self.icount >= self.timer_next:
                self.pending |= Irq.TIMER
                self.timer_next += self.timer_period
            if self.pending and cr[ST] & IE:
                bit = irq_to_deliver(self.pending)
                self.pending &= ~bit
                cause = IRQ_BASE_CAUSE + bit.bit_length() - 1
                ex = self._take_trap(cause, self.pc, self.ipi_from if bit == Irq.IPI else 0)
                if ex:
                    return ex
                continue
            pc = self.pc
            if fast and not cr[ST] & PG and not self.gm and pc + 6 <= size and \
                    _fast(self, regs, mem, size, pc):
                continue
            try:
                ex = self._step(pc, regs, cr)
            except _Watch as w:
                self.pc = pc
                return VMExit(Exit.WATCH, cause=w.kind, epc=pc, badaddr=w.vaddr)
            except _Trap as t:
                # sys and brk retire; faults do not.
                epc = pc if t.cause in FAULT_CAUSES else (pc + LENGTHS[self._opcode]) & M32
                if t.cause not in FAULT_CAUSES:
                    self.icount += 1
                ex = self._take_trap(t.cause, epc, t.badaddr, self._insn)
            if ex:
                return ex

    def _fetch(self, pc: int) -> bytes:
        self._insn = b""
        if not self.cr[ST] & PG and not self.gm and pc < self.mem_size:
            op = self.mem[pc]
            self._opcode = op
            n = LENGTHS[op]
            if n and pc + n <= self.mem_size:              # paging off, all in memory
                raw = self._insn = bytes(self.mem[pc:pc + n])
                return raw
        op = self.mem[self.translate(pc, FETCH)]
        self._opcode = op
        n = LENGTHS[op]
        if n == 0:
            raise _Trap(Cause.ILLEGAL)
        raw = bytes(self.mem[p] for p in self._span(pc, n, FETCH)) if n > 1 else bytes((op,))
        self._insn = raw
        return raw

    def _step(self, pc: int, regs: list, cr: list) -> VMExit | None:
        raw = self._fetch(pc)
        op = raw[0]
        npc = (pc + len(raw)) & M32
        if op >= 0x60 and not cr[ST] & KM:
            raise _Trap(Cause.PRIVILEGED)
        x = raw[1] >> 4 if len(raw) > 1 else 0
        y = raw[1] & 15 if len(raw) > 1 else 0
        if 0x10 <= op <= 0x2C:                       # ALU, register or immediate form
            a = regs[y]
            b = regs[raw[2] >> 4] if op < 0x20 else int.from_bytes(raw[2:6], "little")
            regs[x] = self._alu(op & 0x0F, a, b)
        elif op == 0x02:                             # li
            regs[x] = int.from_bytes(raw[2:6], "little")
        elif op == 0x03:                             # mov
            regs[x] = regs[y]
        elif op == 0x01:                             # nop
            pass
        elif op == 0x37:                             # xchg: one access, with a store's rights
            addr = (regs[y] + int.from_bytes(raw[2:6], "little")) & M32
            phys = self._span(addr, 4, WRITE)
            if self.watches:
                self._watch(addr, 4, WATCH_READ | WATCH_WRITE)
            mem = self.mem
            old = int.from_bytes(bytes(mem[p] for p in phys), "little")
            v = regs[x]
            for i, p in enumerate(phys):
                mem[p] = (v >> (8 * i)) & 0xFF
            regs[x] = old
        elif 0x30 <= op <= 0x36:                     # loads and stores
            addr = (regs[y] + int.from_bytes(raw[2:6], "little")) & M32
            width = (4, 2, 1)[op & 3]
            if op < 0x34:
                regs[x] = self.load(addr, width)
            else:
                self.store(addr, width, regs[x])
        elif 0x40 <= op <= 0x45:                     # branches
            a, b = regs[x], regs[y]
            k = op - 0x40
            if k == 0:
                taken = a == b
            elif k == 1:
                taken = a != b
            elif k == 2:
                taken = _signed(a) < _signed(b)
            elif k == 3:
                taken = _signed(a) >= _signed(b)
            elif k == 4:
                taken = a < b
            else:
                taken = a >= b
            if taken:
                npc = int.from_bytes(raw[2:6], "little")
        elif op == 0x48:                             # jmp label
            npc = int.from_bytes(raw[1:5], "little")
        elif op == 0x49:                             # jmp ra
            npc = regs[x]
        elif op == 0x4A or op == 0x4B:               # call
            target = int.from_bytes(raw[1:5], "little") if op == 0x4A else regs[x]
            sp = (regs[15] - 4) & M32
            self.store(sp, 4, npc)
            regs[15] = sp
            npc = target
        elif op == 0x4C:                             # ret
            npc = self.load(regs[15], 4)
            regs[15] = (regs[15] + 4) & M32
        elif op == 0x50:                             # push
            sp = (regs[15] - 4) & M32
            self.store(sp, 4, regs[x])
            regs[15] = sp
        elif op == 0x51:                             # pop (pop sp keeps the loaded value)
            v = self.load(regs[15], 4)
            regs[15] = (regs[15] + 4) & M32
            regs[x] = v
        elif op == 0x58:                             # sys
            raise _Trap(Cause.SYSCALL, int.from_bytes(raw[1:5], "little"))
        elif op == 0x59:                             # brk
            raise _Trap(Cause.BREAKPOINT)
        else:
            return self._privileged(op, raw, x, y, npc)
        self.pc = npc
        self.icount += 1
        return None

    def _alu(self, f: int, a: int, b: int) -> int:
        if f == 0:
            return (a + b) & M32
        if f == 1:
            return (a - b) & M32
        if f == 2:
            return (a * b) & M32
        if 3 <= f <= 6:
            if b == 0:
                raise _Trap(Cause.DIVIDE)
            if f == 3:
                return sdiv(a, b)[0]
            if f == 4:
                return a // b
            if f == 5:
                return sdiv(a, b)[1]
            return a % b
        if f == 7:
            return a & b
        if f == 8:
            return a | b
        if f == 9:
            return a ^ b
        if f == 10:
            return (a << (b & 31)) & M32
        if f == 11:
            return a >> (b & 31)
        if f == 12:
            return (_signed(a) >> (b & 31)) & M32
        raise _Trap(Cause.ILLEGAL)  # pragma: no cover - opcodes 0x1D..0x1F are undefined

    def _privileged(self, op: int, raw: bytes, x: int, y: int, npc: int) -> VMExit | None:
        """Kernel-mode instructions (the mode check is already done)."""
        cr = self.cr
        ex = None
        if self.gm_ctl & GM_EXIT_ALL:
            return self._gm_exit(raw)
        if op == 0x60:                               # halt
            ex = VMExit(Exit.HALT)
        elif op == 0x61:                             # wfi
            if self.gm_ctl & GM_EXIT_WFI:
                return self._gm_exit(raw)
            if not self.pending:
                ex = VMExit(Exit.WFI)                # the CPU waits (RefCore.run)
        elif op == 0x62:                             # in
            ex = VMExit(Exit.IO_IN, port=raw[2], reg=x)
        elif op == 0x63:                             # out
            port = raw[2]
            in_core = self.gm and not self.gm_io_exit[port >> 5] >> (port & 31) & 1
            if in_core and port == 0x10 and len(self.gm_con) < 256:
                # guest mode, the console left to the core: posted for the host's next exit
                self.gm_con.append(self.regs[x] & 0xFF)
            elif in_core and port == 0x20:
                # guest mode, the timer left to the core by the I/O bitmap
                self.timer_period = self.regs[x]
                self.timer_next = self.icount + 1 + self.regs[x]
            else:
                ex = VMExit(Exit.IO_OUT, port=port, value=self.regs[x])
        elif op == 0x64:                             # cli
            cr[ST] &= ~IE
        elif op == 0x65:                             # sti
            cr[ST] |= IE
        elif op == 0x66:                             # iret
            st = cr[ST]
            cr[ST] = status_on_iret(st)
            npc = cr[EPC]
        elif op == 0x67 or op == 0x68:               # mfcr / mtcr
            n = y if op == 0x67 else x
            if n >= NUM_CRS:
                raise _Trap(Cause.ILLEGAL)
            if op == 0x67:
                self.regs[x] = (cr[n] if n < STORED_CRS else
                                self.cpuid if n == CR.cpuid else self.icount & M32)
            elif n < STORED_CRS:                     # cpuid and icount ignore writes
                v = self.regs[y]
                if self.gm_ctl & GM_EXIT_PTBR and (
                        n == PTBR or (n == ST and (v & STATUS_MASK ^ cr[ST]) & PG)):
                    return self._gm_exit(raw)
                if n == ST:
                    v &= STATUS_MASK
                    if (v ^ cr[ST]) & PG:
                        self.tlb_flush()
                elif n == PTBR:
                    self.tlb_flush()
                cr[n] = v
        elif op == 0x69:                             # tlbflush
            if self.gm_ctl & GM_EXIT_TLBFLUSH:
                return self._gm_exit(raw)
            self.tlb_flush()
        else:                                        # 0x6A.. are undefined (LENGTHS = 0)
            raise _Trap(Cause.ILLEGAL)  # pragma: no cover
        self.pc = npc
        self.icount += 1
        return ex


class RefCore(MultiCore):
    """The reference machine: `cpus` RefCPUs on one memory, taking turns of `quantum` slots
    (brief §11). With one CPU it is exactly that CPU. Plain-data state: vcpu/multi.py."""
    name = "py"

    def __init__(self, mem_size: int = 65536, memory: bytearray | None = None, *,
                 cpus: int = 1, quantum: int = DEFAULT_QUANTUM):
        check_cpus(cpus, quantum)
        self.mem = memory if memory is not None else bytearray(mem_size)
        self.mem_size = len(self.mem)
        self.cpus = [RefCPU(memory=self.mem, cpuid=i) for i in range(cpus)]
        self.quantum = quantum
        self.cur = 0
        self.turn_end = quantum if cpus > 1 else NO_TURN_END

    def _set_sched(self, cur: int, turn_end: int, quantum: int) -> None:
        check_cpus(len(self.cpus), quantum)
        self.cur, self.turn_end, self.quantum = cur, turn_end, quantum

    def run(self, budget: int) -> VMExit:
        """Run the CPUs' turns until an exit of one of them, or until `budget` slots have
        passed over all CPUs. Mirrors hv_machine_run in native/core.c."""
        if budget < 0:
            raise ValueError("budget must be >= 0")
        cpus = self.cpus
        n = len(cpus)
        left = budget
        while True:
            c = cpus[self.cur]
            if c.icount >= self.turn_end:            # the turn is over: the next CPU's
                if n > 1:
                    self.cur = self.cur + 1 if self.cur + 1 < n else 0
                    c = cpus[self.cur]
                    self.turn_end = c.icount + self.quantum
                else:
                    self.turn_end = NO_TURN_END
                continue
            if left == 0:
                return VMExit(Exit.BUDGET, cpu=self.cur)
            slice_ = min(left, self.turn_end - c.icount)
            if c.waiting:
                # a slot boundary of a waiting CPU: the timer, then wake on anything pending
                if c.timer_period and c.icount >= c.timer_next:
                    c.pending |= Irq.TIMER
                    c.timer_next += c.timer_period
                if c.pending:
                    c.waiting = False
                else:
                    if all(x.waiting and not x.pending and not x.timer_period for x in cpus):
                        return VMExit(Exit.WFI, cpu=self.cur)
                    k = slice_
                    if c.timer_period:
                        k = min(k, c.timer_next - c.icount)
                    c.icount += k
                    c.idle += k
                    left -= k
                    continue
            before = c.icount
            ex = c.run(slice_)
            left -= c.icount - before
            r = ex.reason
            if r is Exit.BUDGET:
                continue
            if r is Exit.WFI:
                c.waiting = True
                if c.breaks and c.pc in c.breaks:
                    # the wfi retired onto a breakpoint: reported as the CPU starts to wait
                    return VMExit(Exit.BREAK, epc=c.pc, cpu=self.cur)
                continue
            ex.cpu = self.cur
            return ex
