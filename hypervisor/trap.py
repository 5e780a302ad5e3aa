"""The trap path: what the hypervisor does with each exit of a guest's real core.

    privileged instruction, guest in virtual kernel mode  -> emulate  (emulate.py)
    privileged instruction, guest in virtual user mode    -> reflect cause 3
    page fault the guest's own tables allow               -> fill the shadow, re-execute
    any other fault, syscall, breakpoint                  -> reflect into the guest's evec
    virtual interrupt pending and virtual IE = 1          -> inject

Reflecting a trap does to the virtual state exactly what the bare CPU does to the real one,
so the guest kernel cannot tell the difference (Popek & Goldberg's equivalence).
"""
from __future__ import annotations

from vcpu.exits import fault_text
from vcpu.isa import (CAUSE_TEXT, CR, IRQ_BASE_CAUSE, Cause, Irq, Status, irq_to_deliver,
                      is_double_fault, status_on_trap)

from .emulate import Reflect, emulate

M32 = 0xFFFF_FFFF
KM, IE, PG = int(Status.KM), int(Status.IE), int(Status.PG)
ST, EV, EPC, CAU, BAD = (int(CR.status), int(CR.evec), int(CR.epc), int(CR.cause),
                         int(CR.badaddr))


def deliver(vm, cause: int, epc: int, badaddr: int = 0) -> str:
    """Enter the guest kernel at its `evec`, as the bare CPU would on a trap."""
    v = vm.vcr
    st = v[ST]
    if is_double_fault(cause, epc, st, v[EV]):
        vm.stop("shutdown", fault_text(cause, epc, badaddr, v[EV]))
        return "guest stopped: " + vm.reason
    v[ST] = status_on_trap(st)
    v[EPC] = epc & M32
    v[CAU] = cause
    v[BAD] = badaddr & M32
    vm.core.pc = v[EV]
    vm.shadow.activate()
    return f"→ evec 0x{v[EV]:08x}" if vm.tracing else ""


def fault(vm, cause: int, epc: int, badaddr: int = 0) -> str:
    """Reflect a trap into the guest kernel."""
    vm.stats.reflected[int(cause)] += 1
    if not vm.tracing:
        deliver(vm, int(cause), epc, badaddr)
        return None
    detail = f" {badaddr}" if cause == Cause.SYSCALL else (
        f" at 0x{badaddr:08x}" if cause in (5, 6, 7) else "")
    return f"reflect {CAUSE_TEXT.get(cause, cause)}{detail} " + deliver(vm, int(cause), epc, badaddr)


PRIVILEGED = int(Cause.PRIVILEGED)
PAGE_FAULTS = (int(Cause.PAGE_FAULT_READ), int(Cause.PAGE_FAULT_WRITE),
               int(Cause.PAGE_FAULT_FETCH))


def handle_trap(vm, ex) -> tuple[str, str | None]:
    """Handle a TRAP exit; returns (kind, what was done) for the trace."""
    cause = ex.cause
    if cause >= IRQ_BASE_CAUSE:
        # The core stopped where the bare CPU takes the interrupt: virtual IE is 1 (the real
        # IE follows it) and the core has already cleared the pending bit.
        vm.stats.injected[cause] += 1
        did = deliver(vm, cause, ex.epc, ex.badaddr)
        return "inject", (f"inject {CAUSE_TEXT.get(cause, cause)} " + did
                          if vm.tracing else "inject")
    if cause == PRIVILEGED and vm.vcr[ST] & KM:
        try:
            return "emulate", emulate(vm, ex.insn)
        except Reflect as r:
            return "reflect", fault(vm, r.cause, vm.core.pc)
    if cause in PAGE_FAULTS and vm.shadow.fill(ex.badaddr, cause):
        return "shadow-fill", f"map 0x{ex.badaddr & ~0xFFF:08x}" if vm.tracing else None
    return "reflect", fault(vm, cause, ex.epc, ex.badaddr)


def tick(vm) -> None:
    """The virtual timer: due every `period` guest instructions (at most one pending).
    The real core does this itself at every boundary (vm.py); calling it early, at a
    boundary of the current vCPU, changes nothing."""
    p = vm.vtimer_period
    if p and vm.core.icount >= vm.vtimer_next:
        vm.vpending |= Irq.TIMER
        vm.vtimer_next += ((vm.core.icount - vm.vtimer_next) // p + 1) * p


def inject(vm) -> str | None:
    """Deliver a pending virtual interrupt of the current vCPU if its virtual IE allows
    it, now. The core raises these as host traps by itself (handle_trap); this is for
    callers that stand at a boundary of the current vCPU between two runs."""
    if not vm.vpending or not vm.vcr[ST] & IE:
        return None
    bit = irq_to_deliver(vm.vpending)
    vm.vpending &= ~bit
    cause = Cause(IRQ_BASE_CAUSE + bit.bit_length() - 1)
    vm.stats.injected[int(cause)] += 1
    did = deliver(vm, int(cause), vm.core.pc, vm.vipi_from if bit == Irq.IPI else 0)
    return f"inject {CAUSE_TEXT[cause]} " + did if vm.tracing else "inject"

