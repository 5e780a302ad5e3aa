"""Instruction semantics, traps, paging, timer and the run API, on both cores.

Each test runs on the native core ("c") and the reference core ("py") through the
`core_kind` fixture and checks explicit expected values, so the two cores are held to the
spec (docs/isa.md), not only to each other. Programs are built with vcpu.isa.encode.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from vcpu import cores
from vcpu.exits import VMExit
from vcpu.isa import INSTRUCTIONS, TLB_ENTRIES, Cause, Exit, encode

M32 = 0xFFFF_FFFF
INT_MIN = 0x8000_0000
INT_MAX = 0x7FFF_FFFF
NAMES = {i.name: i for i in INSTRUCTIONS}
KM, IE, PG, PKM, PIE = 1, 2, 4, 8, 16
ST, EV, EPC, CAU, BAD, PTBR, SCR = range(7)


def E(name: str, **f) -> bytes:
    return encode(NAMES[name], **f)


def prog(*parts: bytes) -> bytes:
    return b"".join(parts)


def boot(make, code: bytes, *, mem_size: int = 65536, at: int = 0, status: int = KM,
         evec: int = 0):
    core = make(mem_size)
    core.mem[at:at + len(code)] = code
    core.pc = at
    core.regs[15] = mem_size & M32
    core.cr[ST] = status
    core.cr[EV] = evec
    return core


def li(r: int, v: int) -> bytes:
    return E("li", x=r, imm=v & M32)


HALT = E("halt")


# --- ALU ---------------------------------------------------------------------------------

ALU_CASES = [
    ("add", 0xFFFF_FFFF, 1, 0), ("add", INT_MAX, 1, INT_MIN), ("add", 5, 7, 12),
    ("sub", 0, 1, M32), ("sub", INT_MIN, 1, INT_MAX), ("sub", 7, 5, 2),
    ("mul", 0x1_0001, 0x1_0001, 0x0002_0001), ("mul", M32, M32, 1), ("mul", INT_MIN, 2, 0),
    ("mul", 0x12345678, 0x9ABCDEF0, (0x12345678 * 0x9ABCDEF0) & M32),
    ("div", 7, 2, 3), ("div", (-7) & M32, 2, (-3) & M32), ("div", 7, (-2) & M32, (-3) & M32),
    ("div", INT_MIN, M32, INT_MIN), ("div", INT_MIN, 1, INT_MIN), ("div", 0, M32, 0),
    ("divu", M32, 2, INT_MAX), ("divu", 7, 2, 3), ("divu", INT_MIN, M32, 0),
    ("rem", 7, 2, 1), ("rem", (-7) & M32, 2, M32), ("rem", 7, (-2) & M32, 1),
    ("rem", INT_MIN, M32, 0), ("rem", (-8) & M32, 3, (-2) & M32),
    ("remu", M32, 10, 5), ("remu", 7, M32, 7),
    ("and", 0xF0F0, 0xFF00, 0xF000), ("or", 0xF0F0, 0x0F0F, 0xFFFF), ("xor", M32, 0xFF, 0xFFFF_FF00),
    ("shl", 1, 31, INT_MIN), ("shl", 1, 32, 1), ("shl", 3, 33, 6), ("shl", 1, M32, INT_MIN),
    ("shr", INT_MIN, 31, 1), ("shr", INT_MIN, 32, INT_MIN), ("shr", M32, 36, 0x0FFF_FFFF),
    ("sar", INT_MIN, 31, M32), ("sar", INT_MIN, 32, INT_MIN), ("sar", (-16) & M32, 2, (-4) & M32),
    ("sar", INT_MAX, 30, 1), ("sar", INT_MIN, 63, M32),
]


@pytest.mark.parametrize("op,a,b,want", ALU_CASES)
def test_alu(make, op, a, b, want):
    code = prog(li(1, a), li(2, b), E(op + "_r", x=3, y=1, z=2), E(op + "_i", x=4, y=1, imm=b), HALT)
    core = boot(make, code)
    ex = core.run(100)
    assert ex.reason == Exit.HALT
    assert core.regs[3] == want and core.regs[4] == want
    assert core.regs[1] == a and core.regs[2] == b
    assert core.icount == 5


def test_alu_same_register_operands(make):
    code = prog(li(1, 6), E("mul_r", x=1, y=1, z=1), E("sub_r", x=2, y=1, z=1),
                E("add_i", x=1, y=1, imm=M32), HALT)
    core = boot(make, code)
    core.run(10)
    assert core.regs[1] == 35 and core.regs[2] == 0


def test_li_mov_nop(make):
    core = boot(make, prog(li(0, -1), E("mov", x=5, y=0), E("nop"), HALT))
    assert core.run(10).reason == Exit.HALT
    assert core.regs[0] == M32 and core.regs[5] == M32 and core.icount == 4
    assert core.pc == len(li(0, 0)) + 2 + 1 + 1


@pytest.mark.parametrize("op", ["div", "divu", "rem", "remu"])
@pytest.mark.parametrize("form", ["_r", "_i"])
def test_divide_by_zero_traps(make, op, form):
    handler = 0x100
    fault_at = 6
    ins = E(op + form, x=3, y=1, z=2) if form == "_r" else E(op + form, x=3, y=1, imm=0)
    code = prog(li(1, 5), ins, HALT)
    core = boot(make, code, status=KM | IE, evec=handler)
    core.mem[handler] = NAMES["halt"].opcode
    core.regs[3] = 77
    ex = core.run(100)
    assert ex.reason == Exit.HALT
    assert core.cr[CAU] == Cause.DIVIDE and core.cr[EPC] == fault_at and core.cr[BAD] == 0
    assert core.cr[ST] == KM | PKM | PIE
    assert core.regs[3] == 77                      # nothing written
    assert core.icount == 2                        # li, halt: the fault did not retire


# --- loads and stores --------------------------------------------------------------------

def test_loads_zero_extend_and_unaligned(make):
    core = boot(make, prog(li(1, 0x1001), E("ld", x=2, y=1, imm=0), E("ldh", x=3, y=1, imm=0),
                           E("ldb", x=4, y=1, imm=3), E("ld", x=5, y=0, imm=0x1001), HALT))
    core.mem[0x1001:0x1005] = bytes([0xF1, 0xF2, 0xF3, 0xF4])
    core.run(10)
    assert core.regs[2] == 0xF4F3F2F1 and core.regs[3] == 0xF2F1 and core.regs[4] == 0xF4
    assert core.regs[5] == 0xF4F3F2F1


def test_stores_and_offset_wrap(make):
    core = boot(make, prog(li(1, 0x2000), li(2, 0xAABBCCDD), E("st", x=2, y=1, imm=1),
                           E("sth", x=2, y=1, imm=8), E("stb", x=2, y=1, imm=12),
                           li(3, 0x3010), E("st", x=2, y=3, imm=(-0x10) & M32), HALT))
    core.run(20)
    assert bytes(core.mem[0x2000:0x2010]) == bytes.fromhex("00ddccbbaa000000ddcc0000dd000000")
    assert bytes(core.mem[0x3000:0x3004]) == bytes.fromhex("ddccbbaa")


def test_access_past_end_of_memory_faults_first_byte(make):
    ms = 8192
    handler = 0x100
    core = boot(make, prog(li(1, ms - 2), li(2, 0x11223344), E("st", x=2, y=1, imm=0), HALT),
                mem_size=ms, evec=handler)
    core.mem[handler] = NAMES["halt"].opcode
    core.run(10)
    assert core.cr[CAU] == Cause.PAGE_FAULT_WRITE
    assert core.cr[BAD] == ms                     # the first byte that fails
    assert bytes(core.mem[ms - 2:]) == b"\0\0"    # a faulting store writes nothing
    assert core.cr[EPC] == 12


def test_push_pop_call_ret(make):
    # call f; halt;  f: push r1; push sp; pop r2; pop r3; ret
    f = 0x40
    code = prog(li(1, 0x1234), E("call_i", imm=f), HALT)
    body = prog(E("push", x=1), E("push", x=15), E("pop", x=2), E("pop", x=3), E("ret"))
    core = boot(make, code, mem_size=65536)
    core.mem[f:f + len(body)] = body
    assert core.run(100).reason == Exit.HALT
    assert core.regs[15] == 65536
    assert core.regs[3] == 0x1234
    assert core.regs[2] == 65536 - 8               # push sp stored the old sp
    assert int.from_bytes(core.mem[65532:65536], "little") == 11   # return address
    assert core.icount == 8


def test_pop_sp_keeps_loaded_value_and_call_register(make):
    code = prog(li(5, 0x50), li(1, 0x777), E("push", x=1), E("pop", x=15), E("call_r", x=5))
    core = boot(make, code)
    core.mem[0x50] = NAMES["halt"].opcode
    assert core.run(100).reason == Exit.HALT
    assert core.regs[15] == 0x777 - 4
    assert int.from_bytes(core.mem[0x773:0x777], "little") == len(code)


def test_branches(make):
    cases = [("beq", 1, 1, True), ("beq", 1, 2, False), ("bne", 1, 2, True),
             ("blt", M32, 0, True), ("blt", 0, M32, False), ("bge", 0, M32, True),
             ("bge", 5, 5, True), ("bltu", 0, M32, True), ("bltu", M32, 0, False),
             ("bgeu", M32, 0, True), ("bgeu", INT_MIN, INT_MAX, True)]
    for op, a, b, taken in cases:
        code = prog(li(1, a), li(2, b), E(op, x=1, y=2, imm=0x80), li(3, 1), HALT)
        core = boot(make, code)
        core.mem[0x80] = NAMES["halt"].opcode
        core.run(10)
        assert (core.pc == 0x81) == taken, (op, a, b)
        assert core.regs[3] == (0 if taken else 1)


def test_jumps(make):
    core = boot(make, prog(E("jmp_i", imm=0x20)))
    core.mem[0x20:0x28] = prog(li(4, 0x30), E("jmp_r", x=4))
    core.mem[0x30] = NAMES["halt"].opcode
    assert core.run(10).reason == Exit.HALT and core.pc == 0x31 and core.icount == 4


# --- traps -------------------------------------------------------------------------------

def test_sys_and_brk(make):
    handler = 0x200
    core = boot(make, prog(E("sys", imm=0xDEADBEEF), E("brk")), status=KM | IE, evec=handler)
    core.mem[handler:handler + 1] = E("iret")
    core.run(1)
    assert core.pc == handler and core.icount == 1
    assert core.cr[CAU] == Cause.SYSCALL and core.cr[BAD] == 0xDEADBEEF and core.cr[EPC] == 5
    assert core.cr[ST] == KM | PKM | PIE
    core.run(2)                                      # iret, brk
    assert core.cr[CAU] == Cause.BREAKPOINT and core.cr[EPC] == 6 and core.cr[BAD] == 0
    assert core.icount == 3


PRIVILEGED = ["halt", "wfi", "in", "out", "cli", "sti", "iret", "mfcr", "mtcr", "tlbflush"]


@pytest.mark.parametrize("name", PRIVILEGED)
def test_privileged_in_user_mode_traps(make, name):
    handler = 0x300
    ins = E(name) if NAMES[name].length == 1 else E(name, x=1, y=1) if name in ("mfcr", "mtcr") \
        else E(name, x=1, port=0x10)
    core = boot(make, prog(E("nop"), ins), status=IE, evec=handler)
    core.mem[handler] = NAMES["halt"].opcode
    assert core.run(10).reason == Exit.HALT
    assert core.cr[CAU] == Cause.PRIVILEGED and core.cr[EPC] == 1 and core.cr[BAD] == 0
    assert core.cr[ST] == KM | PIE                    # PKM = 0 (came from user mode)
    assert core.icount == 2                           # nop + halt


def test_illegal_opcodes_and_bad_control_register(make):
    handler = 0x300
    for code, length in ((bytes([0x00]), 0), (bytes([0x1D, 0, 0]), 0), (bytes([0xFF]), 0),
                         (E("mfcr", x=1, y=9), 2), (E("mtcr", x=15, y=1), 2)):
        core = boot(make, code, evec=handler)
        core.host_traps = 1 << Cause.ILLEGAL
        ex = core.run(10)
        assert ex.reason == Exit.TRAP and ex.cause == Cause.ILLEGAL and ex.epc == 0
        assert ex.insn == code[:length]
        assert core.pc == 0 and core.icount == 0


def test_shutdown_rules(make):
    # a kernel fault with evec = 0 enters the handler at 0 (brief §2: whatever evec holds)
    core = boot(make, prog(E("nop"), bytes([0xEE])), at=0)
    assert core.run(2).reason == Exit.BUDGET     # nop; illegal at 1 -> evec 0; nop again
    assert core.pc == 1 and core.cr[CAU] == Cause.ILLEGAL and core.cr[EPC] == 1
    assert core.cr[ST] == KM | PKM and core.icount == 2
    # ... and whatever sits at 0 then faulting at evec in kernel mode is the one shutdown
    core = boot(make, bytes([0xEE]))
    ex = core.run(10)
    assert ex == VMExit(Exit.SHUTDOWN, cause=Cause.ILLEGAL, epc=0, badaddr=0)
    # a fault at evec itself
    core = boot(make, prog(E("div_i", x=1, y=1, imm=0)), evec=0x10)
    core.mem[0x10] = 0xEE
    ex = core.run(10)
    assert ex.reason == Exit.SHUTDOWN and ex.epc == 0x10 and ex.cause == Cause.ILLEGAL
    assert core.cr[CAU] == Cause.DIVIDE and core.pc == 0x10
    # syscalls still vector to an evec of 0; user faults with evec 0 vector too
    core = boot(make, prog(E("sys", imm=3)))
    assert core.run(1).reason == Exit.BUDGET and core.pc == 0 and core.cr[CAU] == Cause.SYSCALL
    core = boot(make, prog(E("nop"), E("cli")), status=0)
    assert core.run(2).reason == Exit.BUDGET      # nop, cli faults -> 0, nop again
    assert core.pc == 1 and core.cr[CAU] == Cause.PRIVILEGED and core.cr[EPC] == 1


def test_user_fault_at_evec_is_an_ordinary_fault(make):
    # A user program that jumps to the handler's address: `cli` there faults in user mode
    # (privileged) and enters the handler at that same address, now in kernel mode.
    handler = 0x100
    code = prog(E("jmp_i", imm=handler))
    core = boot(make, code, status=0, evec=handler)
    core.mem[handler:handler + 2] = prog(E("cli"), HALT)
    ex = core.run(10)
    assert ex.reason == Exit.HALT
    assert core.cr[CAU] == Cause.PRIVILEGED and core.cr[EPC] == handler
    assert core.cr[ST] == KM and core.icount == 3       # jmp, cli (kernel), halt
    # in kernel mode the same fault is the double fault
    core = boot(make, bytes([0xEE]), evec=0)
    assert core.run(5).reason == Exit.SHUTDOWN


def test_host_traps(make):
    core = boot(make, prog(E("nop"), E("sys", imm=9)), evec=0x100)
    core.host_traps = 1 << Cause.SYSCALL
    ex = core.run(10)
    assert ex == VMExit(Exit.TRAP, cause=Cause.SYSCALL, epc=6, badaddr=9, insn=E("sys", imm=9))
    assert core.pc == 6 and core.icount == 2 and core.cr[CAU] == 0
    # an interrupt to the host: epc = the next instruction, no bytes
    core = boot(make, prog(E("nop"), E("nop")), status=KM | IE, evec=0x100)
    core.host_traps = 1 << Cause.DEVICE
    core.raise_irq(2)
    ex = core.run(10)
    assert ex == VMExit(Exit.TRAP, cause=Cause.DEVICE, epc=0)
    assert core.pending == 0 and core.cr[ST] == KM | IE


# --- I/O and power -----------------------------------------------------------------------

def test_io_exits(make):
    core = boot(make, prog(li(1, 0x141), E("out", x=1, port=0x10), E("in", x=7, port=0x11), HALT))
    ex = core.run(100)
    assert ex == VMExit(Exit.IO_OUT, port=0x10, value=0x141)
    assert core.pc == 9 and core.icount == 2
    ex = core.run(100)
    assert ex == VMExit(Exit.IO_IN, port=0x11, reg=7)
    core.regs[ex.reg] = 0xFFFF_FFFF
    assert core.run(100) == VMExit(Exit.HALT)
    assert core.pc == 13 and core.icount == 4 and core.regs[7] == M32


# --- timer, interrupts, wfi --------------------------------------------------------------

def test_timer_delivery_point(make):
    handler = 0x100
    core = boot(make, bytes([NAMES["nop"].opcode]) * 20, status=KM | IE, evec=handler)
    core.mem[handler] = NAMES["halt"].opcode
    core.set_timer(3)
    assert core.timer_next == 3
    ex = core.run(100)
    assert ex.reason == Exit.HALT
    assert core.cr[CAU] == Cause.TIMER and core.cr[EPC] == 3 and core.icount == 4
    assert core.timer_next == 6 and core.pending == 0


def test_interrupt_waits_for_ie_and_timer_first(make):
    core = boot(make, prog(E("nop"), E("nop"), E("sti"), E("nop")), evec=0x100)
    core.mem[0x100] = NAMES["halt"].opcode
    core.raise_irq(3)
    core.run(3)                                     # nop nop sti: IE off until sti
    assert core.pending == 3 and core.pc == 3
    core.run(1)                                     # boundary: timer first, then halt
    assert core.cr[CAU] == Cause.TIMER and core.cr[EPC] == 3 and core.pending == 2
    assert core.pc == 0x101


def test_budget_boundary_splits_do_not_change_timing(make):
    """Running with budget 1 or in one go ends in the same state."""
    code = prog(li(1, 50), E("sub_i", x=1, y=1, imm=1), E("bne", x=1, y=0, imm=6), HALT)
    states = []
    for budget in (1, 7, 1000):
        core = boot(make, code, status=KM | IE, evec=0x200)
        core.mem[0x200:0x201] = E("iret")
        core.set_timer(5)
        while core.run(budget).reason == Exit.BUDGET:
            pass
        states.append(core.get_state())
    assert states[0] == states[1] == states[2]


def test_wfi(make):
    # no timer, nothing pending: WFI exit (wfi retires)
    core = boot(make, prog(E("wfi")))
    assert core.run(10) == VMExit(Exit.WFI) and core.pc == 1 and core.icount == 1
    # pending with IE off: wfi is a nop
    core = boot(make, prog(E("wfi"), HALT))
    core.raise_irq(2)
    assert core.run(10).reason == Exit.HALT and core.icount == 2
    # timer on: the clock runs on to the next timer interrupt
    core = boot(make, prog(E("nop"), E("wfi"), HALT), status=KM | IE, evec=0x40)
    core.mem[0x40] = NAMES["halt"].opcode
    core.set_timer(1000)
    assert core.run(10_000).reason == Exit.HALT
    assert core.cr[CAU] == Cause.TIMER and core.cr[EPC] == 2 and core.icount == 1001
    # idle slots count against the budget: the run stops inside the wait, and goes on
    core = boot(make, prog(E("wfi"), HALT))
    core.set_timer(500)
    assert core.run(5).reason == Exit.BUDGET and core.icount == 5 and core.pc == 1
    assert core.waiting and core.idle == 4
    assert core.run(1000).reason == Exit.HALT and core.icount == 501 and core.idle == 499


def test_timer_next_in_the_past_catches_up_one_period_per_boundary(make):
    core = boot(make, bytes([NAMES["nop"].opcode]) * 10)
    core.timer_period = 2
    core.timer_next = 0
    core.icount = 100
    core.run(3)
    assert core.timer_next == 6 and core.pending == 1


# --- paging ------------------------------------------------------------------------------

def paged(make, code_at=0x1000, mem_size=0x8000, pde_rights=7, extra=None):
    """Directory at 0x6000, table at 0x7000; pages 0..7 identity-mapped with rights 7
    unless `extra` overrides {vpn: pte}."""
    core = make(mem_size)
    d, t = 0x6000, 0x7000
    core.mem[d:d + 4] = (t | pde_rights).to_bytes(4, "little")
    for vpn in range(8):
        core.mem[t + vpn * 4:t + vpn * 4 + 4] = (vpn << 12 | 7).to_bytes(4, "little")
    for vpn, pte in (extra or {}).items():
        core.mem[t + vpn * 4:t + vpn * 4 + 4] = (pte & M32).to_bytes(4, "little")
    core.cr[PTBR] = d
    core.cr[ST] = KM | PG
    core.pc = code_at
    core.regs[15] = 0x6000
    return core


def test_paging_translates_and_fills_tlb(make):
    core = paged(make, extra={2: 0x5000 | 7})
    core.mem[0x1000:0x1000 + 13] = prog(li(1, 0x2004), E("ld", x=2, y=1, imm=0), E("nop"))[:13]
    core.mem[0x5004:0x5008] = (0xCAFE).to_bytes(4, "little")
    core.run(2)
    assert core.regs[2] == 0xCAFE
    tlb = core.cpu.get_state()["tlb"]
    assert list(tlb[1]) == [1, 0x1000, 6] and list(tlb[2]) == [2, 0x5000, 6]
    assert sum(e is not None for e in tlb) == 2


def test_page_faults_and_rights(make):
    handler = 0x1800
    for extra, ins, cause, bad, mode in [
        ({2: 0}, E("ld", x=2, y=1, imm=0), Cause.PAGE_FAULT_READ, 0x2ffe, KM),
        ({2: 0x2000 | 5}, E("st", x=2, y=1, imm=0), Cause.PAGE_FAULT_WRITE, 0x2ffe, KM),
        ({2: 0x2000 | 3}, E("ldb", x=2, y=1, imm=0), Cause.PAGE_FAULT_READ, 0x2ffe, 0),
        ({3: 0}, E("ld", x=2, y=1, imm=0), Cause.PAGE_FAULT_READ, 0x3000, KM),   # straddles
        ({3: 0x3000 | 1}, E("sth", x=2, y=1, imm=1), Cause.PAGE_FAULT_WRITE, 0x3000, KM),
        ({3: 0x3000 | 1}, E("sth", x=2, y=1, imm=2), Cause.PAGE_FAULT_WRITE, 0x3000, KM),
        ({3: 0x9000 | 7}, E("ld", x=2, y=1, imm=0), Cause.PAGE_FAULT_READ, 0x3000, KM),  # frame outside
    ]:
        core = paged(make, extra=extra)
        core.cr[ST] = mode | PG
        core.cr[EV] = handler
        core.mem[handler] = NAMES["halt"].opcode
        core.regs[1] = 0x2ffe
        core.mem[0x1000:0x1006] = ins
        core.run(5)
        assert core.cr[CAU] == cause and core.cr[BAD] == bad and core.cr[EPC] == 0x1000, (extra, ins)
        assert core.regs[2] == 0
        assert bytes(core.mem[0x2ffe:0x3002]) == b"\0\0\0\0"


def test_fetch_faults(make):
    handler = 0x1800
    # fetch from a non-present page; an instruction that straddles into a non-present page
    core = paged(make, code_at=0x2ffe, extra={3: 0})
    core.cr[EV] = handler
    core.mem[handler] = NAMES["halt"].opcode
    core.mem[0x2ffe:0x3000] = li(1, 5)[:2]
    core.run(3)
    assert core.cr[CAU] == Cause.PAGE_FAULT_FETCH and core.cr[BAD] == 0x3000 and core.cr[EPC] == 0x2ffe
    # user mode fetch from a kernel page
    core = paged(make, code_at=0x2000, extra={2: 0x2000 | 3})
    core.cr[ST] = PG
    core.cr[EV] = handler
    core.mem[handler] = NAMES["halt"].opcode
    core.run(3)
    assert core.cr[CAU] == Cause.PAGE_FAULT_FETCH and core.cr[BAD] == 0x2000


def test_truncated_instruction_at_end_of_memory(make):
    ms = 4096
    core = boot(make, li(1, 7)[:3], mem_size=ms, at=ms - 3, evec=0x10)
    core.mem[0x10] = NAMES["halt"].opcode
    core.run(5)
    assert core.cr[CAU] == Cause.PAGE_FAULT_FETCH and core.cr[BAD] == ms and core.cr[EPC] == ms - 3
    # a 1-byte instruction in the last byte runs
    core = boot(make, HALT, mem_size=ms, at=ms - 1)
    assert core.run(5).reason == Exit.HALT and core.pc == ms


def test_pc_outside_memory(make):
    core = boot(make, b"", mem_size=4096, evec=0x20)
    core.mem[0x20] = NAMES["halt"].opcode
    core.pc = 0xFFFF_FFF0
    core.run(5)
    assert core.cr[CAU] == Cause.PAGE_FAULT_FETCH and core.cr[BAD] == 0xFFFF_FFF0
    core = boot(make, b"", mem_size=4096)
    core.pc = 5000
    ex = core.run(5)
    # the fetch fault enters evec = 0, where the zero byte is an undefined opcode: a fault
    # at evec in kernel mode
    assert ex == VMExit(Exit.SHUTDOWN, cause=Cause.ILLEGAL, epc=0, badaddr=0)
    assert core.cr[CAU] == Cause.PAGE_FAULT_FETCH and core.cr[BAD] == 5000


def test_walk_outside_memory(make):
    # ptbr outside memory: every access faults, with paging on
    core = make(8192)
    core.cr[PTBR] = 0x10000
    core.cr[ST] = KM | PG
    core.pc = 0x100
    core.cr[EV] = 0x100            # the fetch fault at the vector itself stops the machine
    ex = core.run(5)
    assert ex == VMExit(Exit.SHUTDOWN, cause=Cause.PAGE_FAULT_FETCH, epc=0x100, badaddr=0x100)
    # a directory entry pointing outside memory
    core = paged(make, code_at=0x1000)
    core.mem[0x6000 + 4:0x6000 + 8] = (0x100000 | 7).to_bytes(4, "little")
    core.mem[0x1000:0x1006] = E("ld", x=2, y=0, imm=0x400123)
    core.cr[EV] = 0x1800
    core.mem[0x1800] = NAMES["halt"].opcode
    core.run(5)
    assert core.cr[CAU] == Cause.PAGE_FAULT_READ and core.cr[BAD] == 0x400123


def test_tlb_stale_until_flush(make):
    core = paged(make, code_at=0x1000)
    code = prog(li(1, 0x2000), E("ld", x=2, y=1, imm=0),                 # fills the TLB
                li(3, 0x4000 | 7), E("st", x=3, y=0, imm=0x7008),        # remap page 2 -> 4
                E("ld", x=4, y=1, imm=0),                                # stale: old frame
                E("tlbflush"), E("ld", x=5, y=1, imm=0), HALT)
    core.mem[0x1000:0x1000 + len(code)] = code
    core.mem[0x2000] = 0x22
    core.mem[0x4000] = 0x44
    assert core.run(100).reason == Exit.HALT
    assert (core.regs[2], core.regs[4], core.regs[5]) == (0x22, 0x22, 0x44)


def test_mtcr_flushes(make):
    for ins, flushed in ((E("mtcr", x=PTBR, y=1), True), (E("mtcr", x=SCR, y=1), False)):
        core = paged(make, code_at=0x1000)
        core.regs[1] = 0x6000
        code = prog(E("ld", x=2, y=0, imm=0x2000), ins, HALT)
        core.mem[0x1000:0x1000 + len(code)] = code
        core.run(2)
        tlb = core.cpu.get_state()["tlb"]
        assert (tlb[2] is None) == flushed
    # a status write that changes PG flushes; one that keeps it does not
    core = paged(make, code_at=0x1000)
    core.regs[1] = KM | PG | IE
    core.mem[0x1000:0x1008] = prog(E("ld", x=2, y=0, imm=0x2000), E("mtcr", x=ST, y=1))
    core.run(2)
    assert core.cpu.get_state()["tlb"][2] is not None and core.cr[ST] == KM | PG | IE
    core.regs[1] = 0xFFFF_FFFF ^ PG
    core.mem[0x1008:0x100a] = E("mtcr", x=ST, y=1)
    core.run(1)
    assert core.cr[ST] == 0x1B and all(e is None for e in core.cpu.get_state()["tlb"])


def test_iret_and_status_bits(make):
    core = boot(make, prog(E("iret")), status=KM | PKM | PIE | PG ^ PG)
    core.cr[EPC] = 0x40
    core.mem[0x40] = NAMES["halt"].opcode
    core.run(1)
    assert core.cr[ST] == KM | IE | PKM | PIE and core.pc == 0x40
    core = boot(make, prog(E("mtcr", x=ST, y=1), E("mfcr", x=2, y=ST)))
    core.regs[1] = M32
    core.cr[PTBR] = 0x1_0000_0 & 0                  # paging on, directory at 0 (zeros)
    core.run(1)
    assert core.cr[ST] == 0x1F


# --- the run API -------------------------------------------------------------------------

def test_budget_edge_values(make):
    core = boot(make, prog(E("jmp_i", imm=0)))
    with pytest.raises(ValueError):
        core.run(-1)
    assert core.run(0) == VMExit(Exit.BUDGET) and core.icount == 0
    assert core.run(1000).reason == Exit.BUDGET and core.icount == 1000
    core2 = boot(make, prog(E("nop"), HALT))
    assert core2.run(2**64 - 1).reason == Exit.HALT
    core3 = boot(make, prog(E("nop"), HALT))
    assert core3.run(2**70).reason == Exit.HALT


def test_state_roundtrip_and_heterogeneous_migration(core_kind, native):
    code = prog(li(1, 2000), E("add_i", x=2, y=2, imm=3), E("st", x=2, y=0, imm=0x800),
                E("sub_i", x=1, y=1, imm=1), E("bne", x=1, y=0, imm=6), HALT)
    other = "py" if core_kind == "c" else "c"
    a = boot(lambda n: cores.make_core(core_kind, n), code, status=KM | IE, evec=0x900)
    a.mem[0x900:0x901] = E("iret")
    a.set_timer(7)
    a.run(1234)
    s = a.get_state()
    b = cores.make_core(other, 65536, memory=bytearray(a.mem))
    b.set_state(s)
    assert b.get_state() == s
    ea, eb = a.run(10**6), b.run(10**6)
    assert ea == eb and a.get_state() == b.get_state() and a.mem == b.mem


def test_set_state_tlb_and_views(make):
    core = make(8192)
    s = core.cpu.get_state()
    assert s["tlb"] == [None] * TLB_ENTRIES and len(s["regs"]) == 16
    s["tlb"][5] = [5, 0x1000, 6]
    s["regs"][3] = 0x1_0000_0005                     # masked to 32 bits
    s["cr"][0] = 0xFF                                # status: 5 bits
    core.set_state(s)
    t = core.cpu.get_state()
    assert list(t["tlb"][5]) == [5, 0x1000, 6] and t["regs"][3] == 5 and t["cr"][0] == 0x1F
    core.regs[4] = 9
    assert list(core.regs)[4] == 9 and core.regs[4] == 9 and len(list(core.cr)) == 7
    core.tlb_flush()
    assert core.cpu.get_state()["tlb"] == [None] * TLB_ENTRIES


def test_shared_memory_between_cores(native):
    mem = bytearray(8192)
    a = cores.make_core("c", memory=mem)
    b = cores.make_core("c", memory=mem)
    assert a.mem is mem and a.mem_size == 8192
    mem[0:6] = li(1, 0x55)
    mem[6:12] = E("st", x=1, y=0, imm=0x100)
    mem[12] = NAMES["halt"].opcode
    assert a.run(10).reason == Exit.HALT
    assert mem[0x100] == 0x55
    mem[0:6] = li(1, 0x66)                             # Python writes, C sees them
    assert b.run(10).reason == Exit.HALT and mem[0x100] == 0x66
    with pytest.raises(BufferError):                 # exported: cannot be resized under C
        mem.extend(b"x")


def test_step_is_run_one(make):
    core = boot(make, prog(E("nop"), E("nop"), HALT))
    assert core.step() == VMExit(Exit.BUDGET) and core.icount == 1


def test_name_and_kind(make, core_kind):
    assert make(4096).name == core_kind


# --- backend selection -------------------------------------------------------------------

def test_make_core_kinds():
    assert cores.make_core("py").name == "py"
    with pytest.raises(ValueError):
        cores.make_core("java")
    assert "py" in cores.available_kinds()


def test_fallback_warns_once_and_require_raises(monkeypatch, capsys):
    monkeypatch.setattr(cores, "_native_cls", None)
    monkeypatch.setattr(cores, "_native_error", "No module named 'vcpu._core'")
    monkeypatch.setattr(cores, "_warned", False)
    monkeypatch.delenv("HV_REQUIRE_NATIVE", raising=False)
    assert not cores.native_available()
    assert cores.make_core("c").name == "py"
    assert cores.make_core("c").name == "py"
    err = capsys.readouterr().err
    assert err.count("warning") == 1 and "native core" in err
    monkeypatch.setenv("HV_REQUIRE_NATIVE", "1")
    with pytest.raises(cores.NativeUnavailable, match="HV_REQUIRE_NATIVE"):
        cores.make_core("c")


def test_native_backend_is_really_native(native):
    """Guards against a source-tree import that silently lacks the extension."""
    core = cores.make_core("c")
    assert type(core).__name__ == "NativeCore"


def test_fallback_in_fresh_process_without_extension(tmp_path):
    """A process where vcpu._core cannot be imported still runs, with one warning."""
    code = ("import sys; sys.modules['vcpu._core'] = None\n"
            "from vcpu.cores import make_core\n"
            "a = make_core('c'); b = make_core('c'); print(a.name, b.name)\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "HV_REQUIRE_NATIVE"}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["py", "py"]
    assert p.stderr.count("warning") == 1


# --- edges found by mutating the C core (each must be caught by a test) -------------------

def test_jump_to_instruction_cut_by_end_of_memory_in_hot_loop(make):
    """A jump inside one run to a 6-byte instruction whose last byte is past the end of
    memory: a fetch fault on that byte, never a read past the buffer."""
    ms = 4096
    core = boot(make, prog(E("nop"), E("jmp_i", imm=ms - 5)), mem_size=ms, evec=0x40)
    core.mem[0x40] = NAMES["halt"].opcode
    core.mem[ms - 5:ms] = li(1, 7)[:5]
    assert core.run(100).reason == Exit.HALT
    assert core.cr[CAU] == Cause.PAGE_FAULT_FETCH and core.cr[BAD] == ms and core.cr[EPC] == ms - 5


def test_jump_to_instruction_cut_by_page_end_in_hot_loop(make):
    """The same at a page end with paging on: the 6th byte lies in a non-present page."""
    core = paged(make, code_at=0x1000, extra={3: 0})
    core.mem[0x1000:0x1005] = E("jmp_i", imm=0x2FFB)
    core.mem[0x2FFB:0x3000] = li(1, 7)[:5]
    core.cr[EV] = 0x1800
    core.mem[0x1800] = NAMES["halt"].opcode
    assert core.run(100).reason == Exit.HALT
    assert core.cr[CAU] == Cause.PAGE_FAULT_FETCH and core.cr[BAD] == 0x3000
    assert core.cr[EPC] == 0x2FFB and core.regs[1] == 0


def test_walk_reads_entry_past_end_of_memory(make):
    """A page-table entry whose 4 bytes end one byte past memory faults."""
    ms = 0x3003
    core = make(ms)
    core.mem[0x1000:0x1004] = (0x3000 | 7).to_bytes(4, "little")   # table in the last page
    core.cr[PTBR] = 0x1000
    core.cr[ST] = KM | PG
    core.pc = 0x123
    core.cr[EV] = 0x123
    ex = core.run(5)
    assert ex == VMExit(Exit.SHUTDOWN, cause=Cause.PAGE_FAULT_FETCH, epc=0x123, badaddr=0x123)


def test_sti_takes_pending_interrupt_at_next_boundary_in_one_run(make):
    core = boot(make, prog(E("nop"), E("sti"), E("nop"), E("nop"), HALT), evec=0x40)
    core.mem[0x40] = NAMES["halt"].opcode
    core.raise_irq(2)
    assert core.run(100).reason == Exit.HALT
    assert core.cr[CAU] == Cause.DEVICE and core.cr[EPC] == 2 and core.icount == 3


def test_tlb_walk_in_data_access_then_fetch_from_remapped_code_page(make):
    """A store that walks (refilling the TLB slot of the code page with another page) and
    remaps the code page: the next fetch must walk again, not reuse a stale view of the
    code page."""
    core = paged(make, code_at=0x1000)
    # vpn 0x41 shares TLB slot 1 with the code page (vpn 1); it maps the page table itself
    core.mem[0x7000 + 0x41 * 4:0x7000 + 0x41 * 4 + 4] = (0x7000 | 7).to_bytes(4, "little")
    code = prog(li(3, 0x4000 | 7), E("st", x=3, y=0, imm=0x41004),   # remap vpn 1 -> frame 4
                E("nop"), HALT)
    core.mem[0x1000:0x1000 + len(code)] = code
    core.mem[0x4000 + 12:0x4000 + 12 + 7] = li(5, 0x55) + HALT       # what frame 4 holds there
    assert core.run(100).reason == Exit.HALT
    assert core.regs[5] == 0x55 and core.pc == 0x1000 + 19


def test_tlb_walk_in_load_then_fetch_sees_remapped_code_page(make):
    """The code page is remapped while its TLB entry stays (stale, so fetches go on from
    the old frame); then a load walks and evicts that entry: the next fetch walks and
    runs from the new frame."""
    core = paged(make, code_at=0x1000)
    core.mem[0x7000 + 0x41 * 4:0x7000 + 0x41 * 4 + 4] = (0x2000 | 7).to_bytes(4, "little")
    code = prog(li(3, 0x4000 | 7), E("st", x=3, y=0, imm=0x7004),   # remap vpn 1: TLB stale
                E("nop"),                                            # still from frame 1
                E("ld", x=2, y=0, imm=0x41000),                      # evicts slot 1
                E("nop"), HALT)
    core.mem[0x1000:0x1000 + len(code)] = code
    core.mem[0x4000 + 19:0x4000 + 19 + 7] = li(5, 0x55) + HALT
    core.mem[0x2000] = 0x99
    assert core.run(100).reason == Exit.HALT
    assert core.regs[2] == 0x99 and core.regs[5] == 0x55 and core.pc == 0x1000 + 26
