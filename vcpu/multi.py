"""Several CPUs on one memory (brief §11): what RefCore and NativeCore share.

A core object is a *machine*: `core.cpus` lists its CPUs (each with its own registers, pc,
control registers, TLB, timer, pending interrupts and clock) and `core.run(budget)` runs
their turns: CPU 0, 1, ..., N-1, `quantum` slots each, where a slot retires one instruction
or passes idle while the CPU waits in `wfi`. The budget counts slots over all CPUs, and an
exit names its CPU (`VMExit.cpu`).

The single-CPU surface of a core (`regs`, `pc`, `cr`, `icount`, `pending`, `set_timer`,
`tlb_flush`, `translate`, `retire`, ...) is the *current* CPU's: the one whose turn it is,
which is also the CPU of the last exit. So exit handling written for one CPU acts on the
CPU that exited, and with one CPU nothing changes. Device interrupts (`raise_irq`) go to
CPU 0; `send_ipi(target)` comes from the current CPU.

State as plain data (`get_state()` / `set_state()`; snapshots and lockstep rely on it):

    {"cpus": [cpu, ...],        # one dict per CPU, in cpuid order (shape below)
     "cur": int,                # the CPU whose turn it is
     "turn_end": int,           # cur's icount at which its turn ends (2**64-1 with one CPU)
     "quantum": int}            # slots per turn

    cpu = {"regs": [16 ints], "pc": int, "cr": [7 ints: the stored control registers],
           "icount": int, "idle": int, "timer_period": int, "timer_next": int,
           "pending": int (bit 0 timer, 1 device, 2 IPI), "ipi_from": int,
           "waiting": bool, "host_traps": int,
           "tlb": [64 × None or [vpn, frame, rights]]}

`set_state` also accepts one CPU's dict alone (it then sets CPU 0): the single-CPU shape.
"""
from __future__ import annotations

from .isa import MAX_BREAKPOINTS, MAX_CPUS, MAX_WATCHPOINTS, WATCH_READ, WATCH_WRITE

M32 = 0xFFFF_FFFF

NO_TURN_END = (1 << 64) - 1      # one CPU: its turn never ends


def check_cpus(ncpus: int, quantum: int) -> None:
    if not 1 <= ncpus <= MAX_CPUS:
        raise ValueError(f"a machine has 1 to {MAX_CPUS} CPUs, not {ncpus}")
    if quantum < 1:
        raise ValueError(f"the quantum must be at least 1, not {quantum}")


def check_debug(breakpoints, watchpoints) -> tuple[frozenset, tuple]:
    """Validate a debugger's settings: (breakpoint addresses, (lo, hi, mask) ranges)."""
    breaks = frozenset(a & M32 for a in breakpoints)
    if len(breaks) > MAX_BREAKPOINTS:
        raise ValueError(f"at most {MAX_BREAKPOINTS} breakpoints, not {len(breaks)}")
    watches = []
    for addr, length, mask in watchpoints:
        if length < 1 or not mask or mask & ~(WATCH_READ | WATCH_WRITE):
            raise ValueError(f"bad watchpoint ({addr:#x}, {length}, {mask})")
        watches.append((addr & M32, min((addr & M32) + length, 1 << 32), mask))
    if len(watches) > MAX_WATCHPOINTS:
        raise ValueError(f"at most {MAX_WATCHPOINTS} watchpoints, not {len(watches)}")
    return breaks, tuple(watches)



def _proxy(name: str, doc: str) -> property:
    def get(self):
        return getattr(self.cpus[self.cur], name)

    def put(self, v):
        setattr(self.cpus[self.cur], name, v)
    return property(get, put, doc=doc)


class MultiCore:
    """Mixin: the machine-level API over `self.cpus` and the scheduler fields `cur`,
    `turn_end`, `quantum` (attributes or properties of the subclass)."""

    regs = _proxy("regs", "the current CPU's general registers")
    cr = _proxy("cr", "the current CPU's stored control registers")
    pc = _proxy("pc", "the current CPU's pc")
    icount = _proxy("icount", "the current CPU's clock")
    idle = _proxy("idle", "the current CPU's idle slots")
    timer_period = _proxy("timer_period", "the current CPU's timer period")
    timer_next = _proxy("timer_next", "the current CPU's next timer tick")
    pending = _proxy("pending", "the current CPU's pending interrupts")
    ipi_from = _proxy("ipi_from", "the sender of the current CPU's pending IPI")
    waiting = _proxy("waiting", "the current CPU waits in wfi")

    @property
    def ncpus(self) -> int:
        return len(self.cpus)

    @property
    def cpu(self):
        """The current CPU: the one whose turn it is (and of the last exit)."""
        return self.cpus[self.cur]

    @property
    def tlb(self) -> list:
        return self.cpus[self.cur].tlb

    @property
    def slots(self) -> int:
        """The machine's clock: slots passed, summed over all CPUs (= icount with one)."""
        cpus = self.cpus
        if len(cpus) == 1:
            return cpus[0].icount
        return sum(c.icount for c in cpus)

    @property
    def host_traps(self) -> int:
        return self.cpus[0].host_traps

    @host_traps.setter
    def host_traps(self, v: int) -> None:
        for c in self.cpus:
            c.host_traps = v

    def set_debug(self, breakpoints=(), watchpoints=()) -> None:
        """A debugger's breakpoints and watchpoints, on every CPU (vcpu/refcore.py says
        what they do); nothing clears them. Not part of the machine's state."""
        for c in self.cpus:
            c.set_debug(breakpoints, watchpoints)

    # --- what the devices and the host do --------------------------------------------------
    def set_timer(self, period: int) -> None:
        """`out 0x20, period` on the current CPU."""
        self.cpus[self.cur].set_timer(period)

    def raise_irq(self, bits: int, cpu: int = 0) -> None:
        """Make interrupts pending; device interrupts go to CPU 0."""
        self.cpus[cpu].raise_irq(bits)

    def send_ipi(self, target: int) -> None:
        """`out 0x21, target` on the current CPU: ignored when there is no such CPU."""
        if 0 <= target < len(self.cpus):
            self.cpus[target].receive_ipi(self.cur)

    def receive_ipi(self, sender: int) -> None:
        self.cpus[self.cur].receive_ipi(sender)

    def tlb_flush(self) -> None:
        self.cpus[self.cur].tlb_flush()

    def translate(self, vaddr: int, kind: int) -> int:
        return self.cpus[self.cur].translate(vaddr, kind)

    def retire(self, length: int) -> None:
        self.cpus[self.cur].retire(length)

    def step(self):
        """Exactly one slot's worth of work (the lockstep unit)."""
        return self.run(1)

    # --- state ----------------------------------------------------------------------------
    def get_state(self) -> dict:
        return {"cpus": [c.get_state() for c in self.cpus], "cur": self.cur,
                "turn_end": self.turn_end, "quantum": self.quantum}

    def set_state(self, s: dict) -> None:
        if "cpus" not in s:                  # one CPU's state alone
            self.cpus[0].set_state(s)
            return
        cpus = s["cpus"]
        if len(cpus) != len(self.cpus):
            raise ValueError(f"state of {len(cpus)} CPUs for a machine of {len(self.cpus)}")
        for c, cs in zip(self.cpus, cpus):
            c.set_state(cs)
        cur = s.get("cur", 0)
        if not 0 <= cur < len(self.cpus):
            raise ValueError(f"current CPU {cur} out of range")
        self._set_sched(cur, s.get("turn_end", NO_TURN_END), s.get("quantum", self.quantum))
