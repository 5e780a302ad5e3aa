"""The machine under the debugger: a bare machine or one guest under the hypervisor, driven
one `run` at a time, with its whole state captured and restored as plain data.

Time is the guest's retired-instruction count. `run_until(end)` stops at the first
instruction boundary where the count reaches `end` (a `wfi` that sleeps until the timer can
step over it), exactly where `hv run` / `hv boot` would be after that many instructions:
the machine is deterministic, so the same image and input reach the same state at the
same count, however the run was cut into pieces. That is what reverse execution replays.

Nothing here touches the machine's architectural state to look at it: page-table walks
for `x`, `info pagetable` and watchpoints are done on the side, without filling the TLB.
"""
from __future__ import annotations

import abc
import copy

from vcpu.devices import ConsoleInput
from vcpu.image import Image
from vcpu.isa import (BY_MNEMONIC, CR, DEFAULT_MEMORY, FAULT_CAUSES, PAGE_SIZE, STORED_CRS, Cause,
                      Exit, Status, status_on_trap)
from vcpu.machine import Machine, PowerOff, WFI_FOREVER, stop_message

M32 = 0xFFFF_FFFF
ST, EV, EPC, CAU, BAD, PTBR = (int(CR.status), int(CR.evec), int(CR.epc), int(CR.cause),
                               int(CR.badaddr), int(CR.ptbr))
KM, PG = int(Status.KM), int(Status.PG)
P_BIT, W_BIT, U_BIT = 1, 2, 4
# the stored control registers (cpuid and icount are computed, not stored)
CR_NAMES = [c.name for c in CR if c < STORED_CRS]
FAULTS = frozenset(int(c) for c in FAULT_CAUSES)
# Faults and interrupts: delivered without retiring anything, so a plain run(1) would go
# on into the handler. `sys` and `brk` retire, so their delivery already ends a step.
# The IPI (18) too: under the hypervisor it is injected as a position of its own, and the
# bare machine must stop at the same places.
TRAPS_TO_SEE = sum(1 << c for c in FAULTS) | (1 << 16) | (1 << 17) | (1 << 18)
RETIRING_TRAPS = (int(Cause.SYSCALL), int(Cause.BREAKPOINT))    # sys and brk retire first
# the length of the instruction whose retiring trap it is (to stand before it again)
RETIRED_LENGTH = {int(Cause.SYSCALL): BY_MNEMONIC["sys"][0].length,
                  int(Cause.BREAKPOINT): BY_MNEMONIC["brk"][0].length}


def _double_fault(cause: int, epc: int, status: int, evec: int) -> bool:
    """The trap that stops the machine instead of entering the handler (vcpu/isa.py has
    the rule when it defines it; this is the rule of the cores that do not)."""
    from vcpu import isa
    rule = getattr(isa, "is_double_fault", None)
    if rule is not None:
        return rule(cause, epc, status, evec)
    return cause in FAULTS and (epc == evec or (evec == 0 and bool(status & KM)))


def _plain(x):
    """A core's state with its numbers as plain ints (the reference core may keep a cause
    as its enum, which is the same number but not the same text)."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, int) and not isinstance(x, bool):
        return int(x)
    return x


class Stopped(Exception):
    """The machine is off (powered off, shut down, waiting forever): it cannot go on."""


class Target(abc.ABC):
    """What the debugger engine needs of a machine (both kinds below).

    With several CPUs (bare, or vCPUs under the hypervisor) time is the machine's clock,
    the slots of all CPUs together (`core.slots`), one step is one slot of whichever
    CPU's turn it is, and `pc`, `regs` and the control registers are those of the selected CPU
    (`thread`). `acted` names the CPU of the last step."""
    hv = False
    interrupt = False      # set from another thread (a pause): long loops return early
    thread = 0             # the selected CPU
    acted = 0              # the CPU that did the last step

    @property
    def ncpus(self) -> int:
        return getattr(self.core, "ncpus", 1)

    def next_actor(self) -> int:
        """The CPU that takes the next slot: the current one until its turn ends (its
        clock reaches `turn_end`), then the next in order. Turns are fixed by the clocks
        alone, so this is known before the step."""
        core = self.core
        n = getattr(core, "ncpus", 1)
        if n == 1:
            return 0
        cur = core.cur
        return cur if core.cpus[cur].icount < core.turn_end else (cur + 1) % n

    # --- time ------------------------------------------------------------------------------
    @property
    def icount(self) -> int:
        core = self.core
        return core.slots if getattr(core, "ncpus", 1) > 1 else core.icount

    @property
    def pc(self) -> int:
        core = self.core
        return core.cpus[self.thread].pc if getattr(core, "ncpus", 1) > 1 else core.pc

    @property
    def regs(self):
        core = self.core
        return core.cpus[self.thread].regs if getattr(core, "ncpus", 1) > 1 else core.regs

    # --- memory as the guest sees it, without side effects -----------------------------
    @abc.abstractmethod
    def read_phys(self, pa: int, n: int) -> bytes | None:
        """Guest-physical bytes, or None outside the guest's memory (BareTarget, HvTarget)."""

    def walk(self, va: int) -> dict:
        """The page-table walk of `va` in the guest's current address space (no TLB use)."""
        st = self.cr_view()[ST]
        out = {"va": va, "paging": bool(st & PG)}
        if not st & PG:
            out["pa"] = va
            out["rights"] = P_BIT | W_BIT | U_BIT
            return out
        ptbr = self.cr_view()[PTBR] & ~0xFFF & M32
        pde_addr = ptbr + (va >> 22) * 4
        out["pde_addr"] = pde_addr
        raw = self.read_phys(pde_addr, 4)
        if raw is None:
            out["fault"] = "directory entry outside memory"
            return out
        pde = out["pde"] = int.from_bytes(raw, "little")
        if not pde & P_BIT:
            out["fault"] = "directory entry not present"
            return out
        pte_addr = (pde & ~0xFFF & M32) + ((va >> 12) & 0x3FF) * 4
        out["pte_addr"] = pte_addr
        raw = self.read_phys(pte_addr, 4)
        if raw is None:
            out["fault"] = "table entry outside memory"
            return out
        pte = out["pte"] = int.from_bytes(raw, "little")
        if not pte & P_BIT:
            out["fault"] = "table entry not present"
            return out
        out["rights"] = pde & pte & (W_BIT | U_BIT) | P_BIT
        out["pa"] = (pte & 0xFFFF_F000) | (va & 0xFFF)
        return out

    def translate(self, va: int) -> int | None:
        return self.walk(va & M32).get("pa")

    def read_virt(self, va: int, n: int) -> bytes | None:
        """`n` bytes at virtual `va` in the current address space, or None where unmapped."""
        out = bytearray()
        while n > 0:
            pa = self.translate(va)
            if pa is None:
                return None
            k = min(n, PAGE_SIZE - (va & 0xFFF))
            chunk = self.read_phys(pa, k)
            if chunk is None:
                return None
            out += chunk
            va, n = (va + k) & M32, n - k
        return bytes(out)

    # --- running at the core's speed to the next event -----------------------------------
    def run_fast(self, end: int, phase: int, *, pcs=(), watches=(), catch_mask: int = 0,
                 catch_exits: bool = False, catch=None, until=None):
        """Run at the core's full speed, with the breakpoints and watchpoints set in the
        core (`set_debug`), to the next *event*, the count reaching `end` or, with
        `until`, position `until` = (icount, phase). Returns (event, phase); the event is
        None (the end, a pause, the machine off) or a dict with "kind", "pos", "cpu", "ex":

          break  a CPU arrived at an address in `pcs` (it stands before that instruction);
          watch  the next instruction of "cpu" accesses a range of `watches`, each
                 (address, length, mask), and has not run;
          catch  a trap whose cause is in `catch_mask` (or, with `catch_exits`, any exit
                 to the hypervisor) is about to be taken, and `catch(ex)` is true: the
                 machine stands before it (before a `sys`, not after).

        Arrivals the core makes are its to report; those the debugger makes by serving an
        exit (a trap delivered, an instruction emulated) are checked here. Faults and
        interrupts come here to be delivered (as `step_exact` does), so positions and
        their phases are the same as stepping gives. Nothing stays set in the core when it
        returns: `step_exact` and plain runs never see the settings."""
        if self.stop_reason:
            raise Stopped(self.stop_reason)
        core = self.core
        traps = core.host_traps
        core.set_debug(pcs, watches)
        self._fast_traps(catch_mask)
        at = self.icount
        try:
            while True:
                if self.interrupt:
                    return None, phase
                if until is not None:
                    if (at, phase) >= until:
                        return None, phase
                    budget = until[0] - at if at < until[0] else 1
                elif at >= end:
                    return None, phase
                else:
                    budget = end - at
                start, start_phase = at, phase
                # in slices, so that a pause is seen within a few milliseconds
                ex = self._run_core(min(budget, 1 << 20 if self.core_kind == "c" else 1 << 14))
                n = self.icount
                if n != at:
                    phase, at = 0, n
                r = ex.reason
                if r == Exit.BUDGET:
                    continue
                cpu = ex.cpu
                if r == Exit.BREAK:
                    self._settle_turn()
                    return {"kind": "break", "pos": (n, phase), "cpu": cpu, "ex": ex}, phase
                if r == Exit.WATCH:
                    return {"kind": "watch", "pos": (n, phase), "cpu": cpu, "ex": ex}, phase
                if self._caught(ex, catch_mask, catch_exits) and (catch is None or catch(ex)):
                    if r == Exit.TRAP and ex.cause in RETIRING_TRAPS:
                        # the trap of a retired sys/brk: stand before the instruction again
                        c = core.cpus[cpu]
                        c.pc = (c.pc - RETIRED_LENGTH[ex.cause]) & M32
                        c.icount -= 1
                        at = self.icount
                        phase = start_phase if at == start else 0
                    return {"kind": "catch", "pos": (at, phase), "cpu": cpu, "ex": ex}, phase
                moved = self._service(ex)
                if self.stop_reason:
                    return None, phase
                n = self.icount
                if n != at:
                    phase, at = 0, n
                elif moved == 2:
                    phase += 1
                if moved and pcs and core.cpus[cpu].pc in pcs:
                    if until is None or (at, phase) <= until:
                        return {"kind": "break", "pos": (at, phase), "cpu": cpu, "ex": ex}, phase
        finally:
            core.set_debug()
            core.host_traps = traps

    def _settle_turn(self) -> None:
        """A breakpoint exit on the last slot of a CPU's turn leaves the turn unswitched;
        a run that ends there by its budget switches it (the machine's loop looks at the
        turn before the budget). Switch it too, so that the same position is the same
        state however it was reached."""
        core = self.core
        n = getattr(core, "ncpus", 1)
        if n > 1 and core.cpus[core.cur].icount >= core.turn_end:
            nxt = (core.cur + 1) % n
            core._set_sched(nxt, core.cpus[nxt].icount + core.quantum, core.quantum)

    def _fast_traps(self, catch_mask: int) -> None:
        """Send the traps `run_fast` must see to the host."""

    def _run_core(self, budget: int):
        return self.core.run(budget)

    @abc.abstractmethod
    def _caught(self, ex, catch_mask: int, catch_exits: bool) -> bool:
        """Whether exit `ex` is a trap (or exit) a catchpoint asks to stop before."""

    @abc.abstractmethod
    def _service(self, ex) -> int:
        """Serve one exit as a run would. Returns 0 when the machine is still at the
        same position (a shadow fill), 1 when it moved on (an instruction retired), 2 when
        a trap was delivered without retiring anything (a new phase of the position)."""

    def write_virt(self, va: int, data: bytes) -> bool:
        for i, b in enumerate(data):
            pa = self.translate((va + i) & M32)
            if pa is None or not self.write_phys(pa, bytes((b,))):
                return False
        return True


class BareTarget(Target):
    """`hv run`'s machine, driven step by step."""

    def __init__(self, image: Image, *, core: str = "c", mem_size: int = DEFAULT_MEMORY,
                 input: bytes = b"", console_write=None, cpus: int = 1, quantum=None):
        self.image = image
        self.console_write = console_write
        extra = {} if quantum is None else {"quantum": quantum}
        self.machine = Machine(image, mem_size=mem_size, core=core, cpus=cpus, **extra,
                               console_write=self._console, console_input=ConsoleInput(input))
        self.core = self.machine.core
        self.mem = self.core.mem
        self.core_kind = self.core.name
        self.stop_reason: str | None = None      # set when the machine is off
        self.status = 0
        self.exits: dict[str, int] = {}

    def _console(self, data: bytes) -> None:
        if self.console_write:
            self.console_write(data)

    @property
    def output(self) -> bytes:
        return bytes(self.machine.output)

    def cr_view(self):
        core = self.core
        return core.cpus[self.thread].cr if getattr(core, "ncpus", 1) > 1 else core.cr

    def read_phys(self, pa, n):
        if pa < 0 or pa + n > self.core.mem_size:
            return None
        return bytes(self.mem[pa:pa + n])

    def write_phys(self, pa, data):
        if pa < 0 or pa + len(data) > self.core.mem_size:
            return False
        self.mem[pa:pa + len(data)] = data
        return True

    # --- running --------------------------------------------------------------------------
    def run_until(self, end: int, catch_mask: int = 0):
        """Run until the count reaches `end` or the machine stops. With `catch_mask`, a trap
        whose cause is in it stops the run *before* it is taken: returns the exit, and the
        machine is as it was at that boundary."""
        core = self.core
        if self.stop_reason:
            raise Stopped(self.stop_reason)
        saved = core.get_state() if catch_mask else None
        while self.icount < end:
            if catch_mask:
                core.host_traps = catch_mask
                ex = core.run(1)
                core.host_traps = 0
            else:
                ex = core.run(end - self.icount)
            r = ex.reason
            if r == Exit.BUDGET:
                if catch_mask:
                    saved = core.get_state()
                continue
            self._count(ex)
            if r == Exit.TRAP:
                core.set_state(saved)
                return ex
            self._handle(ex)
            if self.stop_reason:
                return None
            if catch_mask:
                saved = core.get_state()
        return None

    def step_exact(self, catch_mask: int = 0):
        """One instruction, or the delivery of one fault or interrupt (which `run(1)`
        would fold into the handler's first instruction): a debugger must be able to
        stop at a trap handler's first instruction. Returns a caught exit as run_until."""
        core = self.core
        if self.stop_reason:
            raise Stopped(self.stop_reason)
        saved = core.get_state() if catch_mask else None
        multi = getattr(core, "ncpus", 1) > 1
        if multi:
            clocks = [c.icount for c in core.cpus]
        core.host_traps = TRAPS_TO_SEE | catch_mask
        try:
            ex = core.run(1)
        finally:
            core.host_traps = 0
        if multi:
            self.acted = next((i for i, c in enumerate(core.cpus) if c.icount != clocks[i]),
                              getattr(ex, "cpu", core.cur))
        if ex.reason == Exit.BUDGET:
            return None
        if ex.reason != Exit.TRAP:
            self._count(ex)
            self._handle(ex)
            return None
        if catch_mask >> ex.cause & 1:
            core.set_state(saved)
            return ex
        self._deliver(ex)
        return None

    def _fast_traps(self, catch_mask: int) -> None:
        self.core.host_traps = TRAPS_TO_SEE | catch_mask

    def _caught(self, ex, catch_mask: int, catch_exits: bool) -> bool:
        return ex.reason == Exit.TRAP and bool(catch_mask >> ex.cause & 1)

    def _service(self, ex) -> int:
        if ex.reason == Exit.TRAP:
            self._deliver(ex)
            if ex.cause in RETIRING_TRAPS:
                # the core delivers these itself when nobody catches them, and then a
                # turn that ends there is switched: as a single step leaves it
                self._settle_turn()
                return 1
            return 2
        self._count(ex)
        self._handle(ex)
        return 1

    def _deliver(self, ex) -> None:
        """A trap taken the way the core takes it (vcpu/refcore.py `_take_trap`)."""
        core = self.core
        cr = core.cr
        cause = ex.cause
        if _double_fault(cause, ex.epc, cr[ST], cr[EV]):
            self._off(stop_message(ex, cr[EV]), 125)
            return
        cr[ST] = status_on_trap(cr[ST])
        cr[EPC] = ex.epc & M32
        cr[CAU] = int(cause)           # a plain number, as the core stores it
        cr[BAD] = ex.badaddr & M32
        core.pc = cr[EV]

    def _handle(self, ex) -> None:
        core = self.core
        r = ex.reason
        try:
            if r == Exit.IO_OUT:
                self.machine.bus.write(ex.port, ex.value)
            elif r == Exit.IO_IN:
                core.regs[ex.reg] = self.machine.bus.read(ex.port)
            elif r == Exit.HALT:
                self._off("powered off (halt)", 0)
            elif r == Exit.WFI:
                self._off(WFI_FOREVER, 0)
            elif r == Exit.SHUTDOWN:
                self._off(stop_message(ex, core.cr[EV]), 125)
        except PowerOff as p:
            self._off(f"powered off (status {p.status & M32})", p.status & M32)

    def _count(self, ex) -> None:
        k = ex.reason.name.lower() if ex.reason != Exit.TRAP else f"trap:{ex.cause}"
        self.exits[k] = self.exits.get(k, 0) + 1

    def _off(self, reason: str, status: int) -> None:
        self.stop_reason = reason
        self.status = status

    # --- state ----------------------------------------------------------------------------
    def save(self) -> dict:
        m = self.machine
        cin = m.bus.devices[0].input
        disk = m.bus.devices[3]
        return {"core": self.core.get_state(), "mem": bytes(self.mem),
                "bus": m.bus.save(), "input_pos": cin.pos, "input": bytes(cin.data),
                "disk": bytes(disk.data) if disk.dirty else None,
                "out": len(m.output), "stop": self.stop_reason, "status": self.status,
                "exits": dict(self.exits)}

    def restore(self, s: dict) -> None:
        m = self.machine
        self.core.set_state(s["core"])
        self.mem[:] = s["mem"]
        m.bus.restore(s["bus"])
        cin = m.bus.devices[0].input
        cin.data = bytearray(s["input"])
        cin.pos = s["input_pos"]
        if s["disk"] is not None:
            m.bus.devices[3].data[:] = s["disk"]
        del m.output[s["out"]:]
        self.stop_reason = s["stop"]
        self.status = s["status"]
        self.exits = dict(s["exits"])

    def size_of(self, s: dict) -> int:
        return len(s["mem"]) + 2048

    def fingerprint(self) -> tuple:
        """Everything that makes the machine's future: compared byte for byte in tests."""
        st = _plain(self.core.get_state())
        return (repr(st), bytes(self.mem), repr(self.machine.bus.save()),
                self.machine.bus.devices[0].input.pos, self.stop_reason)

    def close(self) -> None:
        pass


class HvTarget(Target):
    """One guest under the hypervisor, alone on a host: trap-and-emulate with shadow paging
    (the default), or guest mode (`virt="hw"`) with shadow or nested paging."""
    hv = True

    def __init__(self, image: Image, *, core: str = "c", mem_size: int = DEFAULT_MEMORY,
                 input: bytes = b"", console_write=None, cpus: int = 1, quantum=None,
                 virt: str = "trap", paging: str = "shadow"):
        from hypervisor.host import Host, frames_needed
        self.image = image
        self.console_write = console_write
        self.host = Host(frames_needed(mem_size, cpus) * PAGE_SIZE)
        extra = {} if quantum is None else {"quantum": quantum}
        self.vm = self.host.add("guest", image, mem_size=mem_size, core=core, cpus=cpus,
                                **extra, console_write=self._console,
                                console_input=ConsoleInput(input), virt=virt, paging=paging)
        if self.vm.hw:
            # Guest mode (`--virt hw`): every privileged instruction, trap and interrupt
            # exits, as when it is traced, so that each is a position the debugger sees
            # (the same positions as the bare machine's), handled by the same code.
            self.vm.exit_all = True
            self.vm.configure_exits()
        self.virt, self.paging = virt, paging
        self.core = self.vm.core
        self.core_kind = self.core.name
        self.status = 0

    def _console(self, vm, data: bytes) -> None:
        if self.console_write:
            self.console_write(data)

    @property
    def output(self) -> bytes:
        return bytes(self.vm.output)

    @property
    def stop_reason(self) -> str | None:
        vm = self.vm
        if vm.running:
            return None
        return vm.reason if vm.stop_kind != "poweroff" else f"powered off (status {vm.status})"

    @property
    def exits(self) -> dict:
        return dict(self.vm.stats.exits)

    def cr_view(self):
        vm = self.vm
        return vm.vcpus[self.thread].vcr if vm.smp else vm.vcr

    def real_cr(self):
        """The selected vCPU's real control registers (the ones its real CPU runs with)."""
        core = self.core
        return core.cpus[self.thread].cr if self.vm.smp else core.cr

    def read_phys(self, pa, n):
        vm = self.vm
        if pa < 0 or pa + n > vm.mem_size:
            return None
        out = bytearray()
        while n:
            k = min(n, PAGE_SIZE - (pa & 0xFFF))
            h = vm._host(pa)
            out += vm.pool.mem[h:h + k]
            pa, n = pa + k, n - k
        return bytes(out)

    def write_phys(self, pa, data):
        vm = self.vm
        if pa < 0 or pa + len(data) > vm.mem_size:
            return False
        for i, b in enumerate(data):
            vm.pool.mem[vm._host(pa + i)] = b
        return True

    def real_walk(self, va: int) -> dict:
        """The walk the real CPU does for `va`: through the shadow tables (trap-and-emulate,
        or guest mode with shadow paging), host-physical; with nested paging, the host's
        table of guest frames walked for the guest-physical address the guest's own walk
        gives ("what": "gpa")."""
        vm = self.vm
        if not vm.hw:
            return self._host_table_walk(self.real_cr()[PTBR] & ~0xFFF, va, "va")
        cpu = self.core.cpus[self.thread] if vm.smp else self.core.cpu
        if vm.paging != "nested":
            return self._host_table_walk(cpu.gm_root, va, "va")
        guest = self.walk(va)
        if "pa" not in guest:
            return {"va": va, "what": "gpa", "fault": "the guest's own walk faults: no "
                    "guest-physical address to translate"}
        return self._host_table_walk(cpu.gm_root, guest["pa"], "gpa")

    def _host_table_walk(self, root: int, addr: int, what: str) -> dict:
        """A two-level walk of a table the hypervisor keeps, in host memory."""
        mem = self.vm.pool.mem
        nested = what == "gpa"
        missing = ("" if nested else " (filled on first touch)")
        out = {"va": addr, "what": what, "pde_addr": (root & ~0xFFF) + (addr >> 22) * 4}
        pde = out["pde"] = int.from_bytes(mem[out["pde_addr"]:out["pde_addr"] + 4], "little")
        table = "host table" if nested else "shadow"
        if not pde & P_BIT:
            out["fault"] = f"{table} directory entry not present{missing}"
            return out
        out["pte_addr"] = (pde & ~0xFFF) + ((addr >> 12) & 0x3FF) * 4
        pte = out["pte"] = int.from_bytes(mem[out["pte_addr"]:out["pte_addr"] + 4], "little")
        if not pte & P_BIT:
            out["fault"] = f"{table} table entry not present{missing}"
            return out
        out["rights"] = pde & pte & (W_BIT | U_BIT) | P_BIT
        out["pa"] = (pte & 0xFFFF_F000) | (addr & 0xFFF)
        return out

    # --- running --------------------------------------------------------------------------
    def step_exact(self, catch_mask: int = 0, catch_exits: bool = False):
        """One guest instruction, or one trap reflected into the guest (the guest then
        stands at its handler's first instruction). With several vCPUs: one slot of the
        machine (whichever vCPU's turn it is), or one trap reflected into that vCPU."""
        if not self.vm.smp:
            return self.run_until(self.core.icount + 1, catch_mask, catch_exits, exact=True)
        return self._step_multi(catch_mask, catch_exits)

    def _step_multi(self, catch_mask: int = 0, catch_exits: bool = False):
        """step_exact with several vCPUs. A slot ends a step; so does a trap reflected into
        the vCPU (its handler's first instruction is a position, as on the bare machine).
        Shadow fills and emulation happen inside the step; `acted` names the vCPU."""
        vm = self.vm
        core = self.core
        if not vm.running:
            raise Stopped(self.stop_reason)
        start = core.slots
        while vm.running:
            saved = core.get_state() if (catch_mask or catch_exits) else None
            clocks = [c.icount for c in core.cpus]
            vm.refill_io()
            ex = core.run(1)
            self.acted = next((i for i, c in enumerate(core.cpus) if c.icount != clocks[i]),
                              getattr(ex, "cpu", core.cur))
            if ex.reason == Exit.BUDGET:
                vm.stats.exits["budget"] += 1
                return None
            if catch_exits or (ex.reason == Exit.TRAP and catch_mask >> ex.cause & 1
                               and self._guest_sees(ex)):
                core.set_state(saved)
                return ex
            sees = ex.reason == Exit.TRAP and self._guest_sees(ex)
            self.host.handle_exit(vm, ex)
            if core.slots != start or not vm.running:
                return None            # emulated (retired), or the machine stopped
            if sees and core.pc == vm.vcr[EV] and vm.vcr[EPC] == (ex.epc & M32):
                return None            # reflected into the guest: stop at its handler
        return None

    def run_until(self, end: int, catch_mask: int = 0, catch_exits: bool = False,
                  exact: bool = False):
        """`Host.run_slice` for one guest, cut at `end`. A trap exit whose cause is in
        `catch_mask` and that the guest will see (reflected, not emulated or a shadow
        fill), or with `catch_exits` any exit, stops the run before the hypervisor handles
        it: returns the exit, the guest as it was at that boundary."""
        # The virtual timers and interrupts live in the real CPUs (hypervisor/vm.py): the
        # core stops where a vCPU takes one (a trap exit), as Host.run_slice relies on.
        vm = self.vm
        core = self.core
        if not vm.running:
            raise Stopped(self.stop_reason)
        stepping = bool(catch_mask or catch_exits or exact)
        if vm.smp:
            if stepping:
                while vm.running and self.icount < end:
                    ex = self._step_multi(catch_mask, catch_exits)
                    if ex is not None:
                        return ex
                return None
            while vm.running and core.slots < end:
                vm.refill_io()
                ex = core.run(end - core.slots)
                if ex.reason == Exit.BUDGET:
                    vm.stats.exits["budget"] += 1
                    continue
                self.host.handle_exit(vm, ex)
            return None
        start = core.icount
        while vm.running:
            now = core.icount
            if now >= end:
                break
            b = end - now
            pc0 = core.pc
            if stepping:
                b = 1
                saved = core.get_state() if (catch_mask or catch_exits) else None
            vm.refill_io()
            ex = core.run(b)
            if ex.reason == Exit.BUDGET:
                vm.stats.exits["budget"] += 1
                continue
            if stepping and (catch_exits or (ex.reason == Exit.TRAP and catch_mask >> ex.cause & 1
                                             and self._guest_sees(ex))):
                core.set_state(saved)
                return ex
            self.host.handle_exit(vm, ex)
            if exact and core.icount == start and vm.core.pc == vm.vcr[EV] and (
                    vm.vcr[EPC] == pc0):
                break                  # a fault reflected into the guest: stop at its handler
        return None

    def _run_core(self, budget: int):
        self.vm.refill_io()
        ex = self.core.run(budget)
        if ex.reason == Exit.BUDGET:
            self.vm.stats.exits["budget"] += 1
        return ex

    def _caught(self, ex, catch_mask: int, catch_exits: bool) -> bool:
        if catch_exits:
            return ex.reason not in (Exit.BREAK, Exit.WATCH)
        return (ex.reason == Exit.TRAP and bool(catch_mask >> ex.cause & 1)
                and self._guest_sees(ex))

    def _service(self, ex) -> int:
        vm = self.vm
        core = self.core
        c = core.cpus[ex.cpu]
        before, pc0 = self.icount, c.pc
        self.host.handle_exit(vm, ex)
        if not vm.running:
            return 0
        if self.icount != before:
            return 1                   # emulated: retired
        if ex.reason == Exit.TRAP:
            vcr = vm.vcpus[ex.cpu].vcr if vm.smp else vm.vcr
            if c.pc == vcr[EV] and vcr[EPC] == pc0:
                return 1 if ex.cause in RETIRING_TRAPS else 2    # reflected into the guest
        return 0                       # a shadow fill: the instruction runs again

    def _guest_sees(self, ex) -> bool:
        """Whether the hypervisor will reflect this trap into the guest (what a bare
        machine would have taken), rather than emulate it or fill a shadow entry."""
        vm = self.vm
        c = ex.cause
        if c == int(Cause.PRIVILEGED) and vm.vcr[ST] & KM:
            return False
        if c in (5, 6, 7) and vm.hw and vm.paging == "nested":
            return True                # the core walked the guest's tables: its own fault
        if c in (5, 6, 7) and vm.vcr[ST] & PG:
            w = vm.shadow.guest_walk(ex.badaddr)
            if w is not None:
                gframe, rights = w
                st = vm.vcr[ST]
                ok = (st & KM or rights & U_BIT) and (c != 6 or rights & W_BIT)
                if ok and gframe < vm.mem_size:
                    return False
        return True

    # --- state ----------------------------------------------------------------------------
    _VM_FIELDS = ("vcr", "vtimer_period", "vtimer_next", "vpending", "state", "stop_kind",
                  "status", "reason")

    @property
    def _vm_fields(self) -> tuple:
        # in guest mode the virtual control registers are the core's (in its state)
        return self._VM_FIELDS[1:] if self.vm.hw else self._VM_FIELDS

    def save(self) -> dict:
        vm = self.vm
        sh = vm.shadow
        cin = vm.bus.devices[0].input
        disk = vm.bus.devices[3]
        return {"core": self.core.get_state(), "mem": bytes(vm.pool.mem),
                "vm": {k: copy.copy(getattr(vm, k)) for k in self._vm_fields},
                "shadow": (list(sh._free_tables), sh.fills, sh.flushes),
                "vcpus": [(list(v.vcr), list(v.shadow._free_tables), v.shadow.fills,
                           v.shadow.flushes) for v in vm.vcpus],
                "stats": copy.deepcopy(vm.stats), "bus": vm.bus.save(),
                "input_pos": cin.pos, "input": bytes(cin.data),
                "disk": bytes(disk.data) if disk.dirty else None,
                "out": len(vm.output), "gm_roots": self._gm_roots()}

    def _gm_roots(self) -> list:
        """In guest mode, the table each CPU walks (shadow or host table): hypervisor
        state outside the core's get_state, which a checkpoint must hold too."""
        return [c.gm_root for c in self.core.cpus] if self.vm.hw else []

    def restore(self, s: dict) -> None:
        vm = self.vm
        self.core.set_state(s["core"])
        for c, root in zip(self.core.cpus, s["gm_roots"]):
            c.gm_root = root
        vm.pool.mem[:] = s["mem"]
        for k, v in s["vm"].items():
            setattr(vm, k, copy.copy(v))
        sh = vm.shadow
        sh._free_tables, sh.fills, sh.flushes = list(s["shadow"][0]), *s["shadow"][1:]
        for v, (vcr, free, fills, flushes) in zip(vm.vcpus, s["vcpus"]):
            v.vcr = list(vcr)
            v.shadow._free_tables, v.shadow.fills, v.shadow.flushes = list(free), fills, flushes
        vm.stats = copy.deepcopy(s["stats"])
        vm.bus.restore(s["bus"])
        cin = vm.bus.devices[0].input
        cin.data = bytearray(s["input"])
        cin.pos = s["input_pos"]
        if s["disk"] is not None:
            vm.bus.devices[3].data[:] = s["disk"]
        del vm.output[s["out"]:]

    def size_of(self, s: dict) -> int:
        return len(s["mem"]) + 4096

    def fingerprint(self) -> tuple:
        vm = self.vm
        return (repr(_plain(self.core.get_state())), bytes(vm.pool.mem),
                repr({k: getattr(vm, k) for k in self._vm_fields}),
                repr([(list(v.vcr), v.shadow._free_tables) for v in vm.vcpus]),
                repr(self._gm_roots()),
                repr(vm.bus.save()),
                vm.bus.devices[0].input.pos)

    def close(self) -> None:
        pass


def make_target(image: Image, *, hv: bool = False, core: str = "c", cpus: int = 1,
                mem_size: int = DEFAULT_MEMORY, input: bytes = b"", console_write=None,
                quantum: int | None = None, virt: str = "trap", paging: str = "shadow"):
    if not 1 <= cpus <= 16:
        raise ValueError(f"--cpus {cpus}: a machine has 1 to 16 CPUs")
    if quantum is not None and quantum < 1:
        raise ValueError(f"--quantum {quantum}: at least 1")
    if (virt, paging) != ("trap", "shadow") and not hv:
        raise ValueError("--virt and --paging choose how the hypervisor runs the guest: "
                         "they need --hv")
    if hv:
        return HvTarget(image, core=core, mem_size=mem_size, input=input,
                        console_write=console_write, cpus=cpus, quantum=quantum,
                        virt=virt, paging=paging)
    return BareTarget(image, core=core, mem_size=mem_size, input=input,
                      console_write=console_write, cpus=cpus, quantum=quantum)
