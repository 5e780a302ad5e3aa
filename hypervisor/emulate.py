"""Trap-and-emulate: each privileged instruction, executed by a guest in *virtual* kernel
mode, trapped to the hypervisor and is carried out here against the guest's virtual state.

One function per instruction. Each one retires the instruction (pc moves on, the guest's
instruction count grows by one, exactly as on the bare machine) and, when the guest is being
traced, returns a short text of what it did (building that text costs more than the
emulation itself, so it is skipped otherwise).
"""
from __future__ import annotations

from vcpu.isa import CR, NUM_CRS, STATUS_MASK, STORED_CRS, Cause, Status, decode, status_on_iret

M32 = 0xFFFF_FFFF
KM, IE, PG, PKM, PIE = (int(Status.KM), int(Status.IE), int(Status.PG), int(Status.PKM),
                        int(Status.PIE))
ST, EPC, PTBR = int(CR.status), int(CR.epc), int(CR.ptbr)


class Reflect(Exception):
    """Raised by an emulator when the instruction faults on the bare machine too (e.g. an
    unknown control register): the trap path reflects `cause` into the guest kernel."""

    def __init__(self, cause: int):
        super().__init__(cause)
        self.cause = int(cause)


def _retire(vm, length: int) -> None:
    vm.core.retire(length)


def emulate_halt(vm, f, n):
    _retire(vm, n)
    vm.power_off(0)
    return "power off (status 0)" if vm.tracing else None


def emulate_wfi(vm, f, n):
    _retire(vm, n)
    if vm.vpending:
        return "wfi: interrupt already pending" if vm.tracing else None
    nic = getattr(vm, "nic", None)
    if nic is not None:
        nic.idle = True              # a frame may come: the host idles it (mobility/net.py)
        return "wfi: idle until a frame or the timer" if vm.tracing else None
    # The vCPU waits: its real CPU passes idle slots in its turns, as the bare CPU does,
    # until an interrupt of its own is pending (or, all waiting for nothing, the core says
    # so with a WFI exit).
    vm.core.waiting = True
    return "wfi: wait for an interrupt" if vm.tracing else None


def emulate_in(vm, f, n):
    _retire(vm, n)
    value = vm.bus.read(f["port"])
    vm.core.regs[f["x"]] = value
    return f"in r{f['x']} ← port 0x{f['port']:02x} = 0x{value:x}" if vm.tracing else None


def emulate_out(vm, f, n):
    _retire(vm, n)
    value = vm.core.regs[f["x"]]
    vm.bus.write(f["port"], value)
    return f"out port 0x{f['port']:02x} ← 0x{value:x}" if vm.tracing else None


def emulate_cli(vm, f, n):
    _retire(vm, n)
    vm.vcr[ST] &= ~IE
    vm.sync_ie()
    return "virtual IE ← 0" if vm.tracing else None


def emulate_sti(vm, f, n):
    _retire(vm, n)
    vm.vcr[ST] |= IE
    vm.sync_ie()
    return "virtual IE ← 1" if vm.tracing else None


def emulate_iret(vm, f, n):
    st = vm.vcr[ST]
    vm.vcr[ST] = status_on_iret(st)
    vm.core.pc = vm.vcr[EPC]
    vm.core.icount += 1
    vm.shadow.activate()
    mode = "kernel" if vm.vcr[ST] & KM else "user"
    return f"iret → {mode} mode at 0x{vm.vcr[EPC]:08x}" if vm.tracing else None


def emulate_mfcr(vm, f, n):
    cr = f["y"]
    if cr >= NUM_CRS:
        raise Reflect(Cause.ILLEGAL)
    # cpuid and icount read the vCPU's number and clock before this instruction retires
    value = (vm.vcr[cr] if cr < STORED_CRS else
             vm.core.cur if cr == CR.cpuid else vm.core.icount & M32)
    _retire(vm, n)
    vm.core.regs[f["x"]] = value
    return f"mfcr r{f['x']} ← {CR(cr).name} = 0x{value:x}" if vm.tracing else None


def emulate_mtcr(vm, f, n):
    cr = f["x"]
    if cr >= NUM_CRS:
        raise Reflect(Cause.ILLEGAL)
    _retire(vm, n)
    value = vm.core.regs[f["y"]]
    if cr >= STORED_CRS:
        return f"mtcr {CR(cr).name}: read-only, ignored" if vm.tracing else None
    old = vm.vcr[cr]
    if cr == ST:
        value &= STATUS_MASK
    vm.vcr[cr] = value
    if cr == PTBR or (cr == ST and (old ^ value) & PG):
        vm.shadow.flush()            # a new address space: rebuild the shadow lazily
    elif cr == ST:
        vm.shadow.activate()         # the mode may have changed
    return f"mtcr {CR(cr).name} ← 0x{value:x}" if vm.tracing else None


def emulate_tlbflush(vm, f, n):
    _retire(vm, n)
    vm.shadow.flush()
    return "tlbflush: shadow tables dropped" if vm.tracing else None


EMULATORS = {
    "halt": emulate_halt, "wfi": emulate_wfi, "in": emulate_in, "out": emulate_out,
    "cli": emulate_cli, "sti": emulate_sti, "iret": emulate_iret, "mfcr": emulate_mfcr,
    "mtcr": emulate_mtcr, "tlbflush": emulate_tlbflush,
}


_decoded: dict[bytes, tuple] = {}


def emulate(vm, insn: bytes) -> str | None:
    """Emulate the privileged instruction `insn`; returns what was done (when tracing).
    Raises `Reflect` when the instruction faults instead."""
    hit = _decoded.get(insn)
    if hit is None:
        # A guest uses few distinct privileged instructions: decode each once.
        d = decode(insn)
        hit = _decoded[insn] = (d.instr.mnemonic, EMULATORS[d.instr.mnemonic], d.fields,
                                d.instr.length)
    m, fn, fields, length = hit
    vm.stats.emulated[m] += 1
    return fn(vm, fields, length)
