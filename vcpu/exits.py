"""What `run(budget)` returns: an exit, as plain data (the shape of KVM's `struct kvm_run`)."""
from __future__ import annotations

from dataclasses import dataclass

from .isa import CAUSE_TEXT, Exit


@dataclass
class VMExit:
    reason: Exit
    port: int = 0        # IO_IN / IO_OUT
    value: int = 0       # IO_OUT: the value written
    reg: int = 0         # IO_IN: the register the caller fills
    cause: int = 0       # TRAP / SHUTDOWN
    epc: int = 0         # TRAP / SHUTDOWN: the pc the trap would save
    badaddr: int = 0     # TRAP / SHUTDOWN
    insn: bytes = b""    # TRAP: the trapping instruction's bytes, when it was fetched
    cpu: int = 0         # the CPU that exited (brief §11; 0 with one CPU)

    def describe(self) -> str:
        r = self.reason
        if r in (Exit.TRAP, Exit.SHUTDOWN):
            text = CAUSE_TEXT.get(self.cause, f"cause {self.cause}")
            return f"{r.name.lower()}: {text} at pc 0x{self.epc:08x} (badaddr 0x{self.badaddr:x})"
        if r in (Exit.IO_IN, Exit.IO_OUT):
            return f"{r.name.lower()} port 0x{self.port:02x} value 0x{self.value:x}"
        return r.name.lower()


def fault_text(cause: int, epc: int, badaddr: int, evec: int) -> str:
    """Why a fault stopped the machine: the shutdown rule (`isa.is_double_fault`), a
    kernel-mode fault of the instruction at `evec` itself."""
    text = CAUSE_TEXT.get(cause, f"cause {cause}")
    where = f"{text} at pc 0x{epc:08x} (badaddr 0x{badaddr:x})"
    if evec == 0:
        # The usual way to get here: a kernel that never set evec faulted, went to 0, and
        # whatever is at 0 faulted too.
        return (f"double fault: {where}, in the trap handler's first instruction "
                f"(evec = 0: no trap handler set?)")
    return f"double fault: {where}, in the trap handler's first instruction"
