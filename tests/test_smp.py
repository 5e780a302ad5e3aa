"""Brief §11 (several CPUs): `xchg`, `cpuid`/`icount`, inter-processor interrupts, the
interrupt priority rule. Every test runs on both cores (the `make` fixture) with explicit
expected values."""
from __future__ import annotations

import pytest

from vcpu.exits import VMExit
from vcpu.isa import INSTRUCTIONS, Cause, Exit, encode

M32 = 0xFFFF_FFFF
NAMES = {i.name: i for i in INSTRUCTIONS}
KM, IE, PG, PKM, PIE = 1, 2, 4, 8, 16
ST, EV, EPC, CAU, BAD, PTBR, SCR, CPUID, ICOUNT = range(9)


def E(name: str, **f) -> bytes:
    return encode(NAMES[name], **f)


def prog(*parts: bytes) -> bytes:
    return b"".join(parts)


def li(r: int, v: int) -> bytes:
    return E("li", x=r, imm=v & M32)


HALT = E("halt")


def boot(make, code: bytes, *, mem_size: int = 65536, status: int = KM, evec: int = 0x800):
    core = make(mem_size)
    core.mem[:len(code)] = code
    core.regs[15] = mem_size & M32
    core.cr[ST] = status
    core.cr[EV] = evec
    return core


def word(core, addr: int) -> int:
    return int.from_bytes(core.mem[addr:addr + 4], "little")


# --- xchg ----------------------------------------------------------------------------------

def test_xchg_swaps_register_and_word(make):
    core = boot(make, prog(li(1, 0x11223344), li(2, 0x1000), E("xchg", x=1, y=2, imm=4),
                           E("xchg", x=3, y=2, imm=(-4) & M32), HALT))
    core.mem[0x1004:0x1008] = (0xCAFEBABE).to_bytes(4, "little")
    core.mem[0x0FFC:0x1000] = (7).to_bytes(4, "little")
    core.regs[3] = 9
    assert core.run(100).reason == Exit.HALT
    assert core.regs[1] == 0xCAFEBABE and word(core, 0x1004) == 0x11223344
    assert core.regs[3] == 7 and word(core, 0x0FFC) == 9
    assert core.icount == 5


def test_xchg_same_register_as_base_and_unaligned(make):
    # rd = ra: the address is taken before the swap
    core = boot(make, prog(li(1, 0x2001), E("xchg", x=1, y=1, imm=0), HALT))
    core.mem[0x2001:0x2005] = bytes((1, 2, 3, 4))
    assert core.run(10).reason == Exit.HALT
    assert core.regs[1] == 0x04030201 and word(core, 0x2001) == 0x2001


def test_xchg_faults_like_a_store(make):
    # outside memory, paging off: cause 6 (a store's), nothing changes
    ms = 8192
    core = boot(make, prog(li(1, 5), li(2, ms - 2), E("xchg", x=1, y=2, imm=0), HALT),
                mem_size=ms, evec=0x100)
    core.mem[0x100] = NAMES["halt"].opcode
    core.mem[ms - 2:ms] = b"\xAA\xBB"
    assert core.run(10).reason == Exit.HALT
    assert core.cr[CAU] == Cause.PAGE_FAULT_WRITE and core.cr[BAD] == ms
    assert core.cr[EPC] == 12 and core.regs[1] == 5 and core.mem[ms - 2:ms] == b"\xAA\xBB"


def paged(make, rights: int):
    """Identity map of the first 4 pages; page 3 (0x3000) gets `rights`."""
    core = make(65536)
    for i, r in enumerate((7, 7, 7, rights)):
        core.mem[0x2000 + 4 * i:0x2004 + 4 * i] = (i * 4096 | r).to_bytes(4, "little")
    core.mem[0x1000:0x1004] = (0x2000 | 7).to_bytes(4, "little")
    core.cr[PTBR] = 0x1000
    core.cr[EV] = 0x800
    core.mem[0x800] = NAMES["halt"].opcode
    return core


@pytest.mark.parametrize("rights,mode,cause", [
    (5, KM, Cause.PAGE_FAULT_WRITE),     # read-only page: a store's fault, even in kernel mode
    (3, 0, Cause.PAGE_FAULT_WRITE),      # kernel page from user mode
    (0, KM, Cause.PAGE_FAULT_WRITE),     # not present: still cause 6, not 5
    (7, 0, None),                        # user, writable: swaps
])
def test_xchg_rights(make, rights, mode, cause):
    core = paged(make, rights)
    core.mem[0:12] = prog(li(2, 0x3010), E("xchg", x=1, y=2, imm=0))
    core.mem[12] = NAMES["jmp_r"].opcode
    core.mem[13] = 0x40                              # jmp r4 -> halt in kernel mode
    core.regs[1] = 77
    core.regs[4] = 0x800
    core.mem[0x3010:0x3014] = (5).to_bytes(4, "little")
    core.cr[ST] = PG | mode
    ex = core.run(20)
    if cause is None:
        # user mode: the jmp to a halt then faults (privileged) into the handler, which halts
        assert ex.reason == Exit.HALT and core.regs[1] == 5 and word(core, 0x3010) == 77
    else:
        assert ex.reason == Exit.HALT and core.cr[CAU] == cause and core.cr[BAD] == 0x3010
        assert core.cr[EPC] == 6 and core.regs[1] == 77 and word(core, 0x3010) == 5


def test_xchg_straddling_pages_checks_both(make):
    core = paged(make, 5)                            # page 3 read-only
    core.mem[0:12] = prog(li(2, 0x2FFE), E("xchg", x=1, y=2, imm=0))
    core.cr[ST] = PG | KM
    before = bytes(core.mem[0x2FFE:0x3002])
    core.run(5)
    assert core.cr[CAU] == Cause.PAGE_FAULT_WRITE and core.cr[BAD] == 0x3000
    assert bytes(core.mem[0x2FFE:0x3002]) == before


def test_xchg_is_unprivileged(make):
    core = boot(make, prog(li(2, 0x1000), E("xchg", x=1, y=2, imm=0), E("brk")), status=0)
    core.regs[1] = 3
    core.mem[0x800] = NAMES["halt"].opcode
    assert core.run(10).reason == Exit.HALT
    assert core.cr[CAU] == Cause.BREAKPOINT and word(core, 0x1000) == 3


# --- cpuid, icount ---------------------------------------------------------------------------

def test_cpuid_and_icount_are_read_only(make):
    code = prog(E("nop"), E("nop"), E("mfcr", x=1, y=ICOUNT), E("mfcr", x=2, y=CPUID),
                li(3, 1234), E("mtcr", x=ICOUNT, y=3), E("mtcr", x=CPUID, y=3),
                E("mfcr", x=4, y=ICOUNT), E("mfcr", x=5, y=CPUID), HALT)
    core = boot(make, code)
    assert core.run(100).reason == Exit.HALT
    assert core.regs[1] == 2                 # two instructions retired before this one
    assert core.regs[2] == 0 and core.regs[5] == 0
    assert core.regs[4] == 7 and core.icount == 10
    assert len(core.cr) == 7                 # the stored control registers only


def test_icount_is_the_low_32_bits(make):
    core = boot(make, prog(E("mfcr", x=1, y=ICOUNT), HALT))
    core.icount = (5 << 32) + 0xFFFF_FFFF
    assert core.run(10).reason == Exit.HALT and core.regs[1] == M32


def test_mfcr_cpuid_stays_privileged(make):
    core = boot(make, prog(E("mfcr", x=1, y=CPUID)), status=0)
    core.mem[0x800] = NAMES["halt"].opcode
    assert core.run(10).reason == Exit.HALT and core.cr[CAU] == Cause.PRIVILEGED


# --- interrupts: the IPI cause and the priority rule -------------------------------------------

def test_lowest_cause_first(make):
    # every interrupt pending at once: timer (16), device (17), IPI (18) in that order
    handler = prog(E("mfcr", x=13, y=CAU), E("st", x=13, y=12, imm=0),
                   E("mfcr", x=13, y=BAD), E("st", x=13, y=12, imm=4),
                   E("add_i", x=12, y=12, imm=8), E("iret"))
    code = prog(li(12, 0x1000), E("sti"), E("nop"), E("nop"), E("nop"), HALT)
    core = boot(make, code)
    core.mem[0x800:0x800 + len(handler)] = handler
    core.raise_irq(1 | 2)
    core.receive_ipi(5)
    core.receive_ipi(6)                      # at most one IPI pending: the first sender stays
    assert core.pending == 7 and core.ipi_from == 5
    assert core.run(100).reason == Exit.HALT
    got = [word(core, 0x1000 + 4 * i) for i in range(6)]
    assert got == [16, 0, 17, 0, 18, 5]
    assert core.pending == 0


def test_ipi_wakes_wfi_with_interrupts_off(make):
    core = boot(make, prog(E("wfi"), li(1, 42), HALT))
    core.receive_ipi(0)
    assert core.run(10).reason == Exit.HALT
    assert core.regs[1] == 42 and core.pending == 4      # IE = 0: it stays pending


def test_ipi_to_host_trap(make):
    core = boot(make, prog(E("sti"), E("nop"), HALT))
    core.host_traps = 1 << Cause.IPI
    core.receive_ipi(3)
    ex = core.run(10)
    assert ex == VMExit(Exit.TRAP, cause=Cause.IPI, epc=1, badaddr=3)


# --- the machine: `out 0x21` --------------------------------------------------------------------

IPI_SELF = """
.entry start
start:
    li   r1, handler
    mtcr evec, r1
    li   r2, 5
    out  0x21, r2               ; no CPU 5: ignored
    li   r2, 0
    out  0x21, r2               ; to itself (CPU 0)
    mfcr r3, icount
    sti                         ; delivered at the next boundary
    nop
    halt
handler:
    mfcr r4, cause
    mfcr r5, badaddr
    mfcr r6, epc
    halt
"""


@pytest.mark.parametrize("mode", ["bare", "hv"])
def test_ipi_port_one_cpu(core_kind, mode):
    from asm.assembler import assemble

    from .runners import run_image
    image = assemble(IPI_SELF, "<test>")
    r = run_image(image, core_kind, mode, max_steps=1000)
    nop = next(s.value for s in image.symbols if s.name == "handler") - 2
    assert r.kind == "poweroff", r.reason
    assert r.regs[3:7] == [6, 18, 0, nop]
