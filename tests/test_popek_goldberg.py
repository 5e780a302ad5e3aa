"""Popek & Goldberg, as tests.

Theorem 1: every sensitive instruction is privileged. Each instruction of the table runs in
user mode; the privileged ones must trap with cause 3 at their own address, `sys`/`brk` trap
as themselves, and no innocuous instruction may trap as privileged. The same program runs on
the bare machine and under the hypervisor, on both cores: the guest must see the same thing.

The page-permission matrix (in the style of kvm-unit-tests' x86/access.c): every combination
of directory and table P/W/U bits × read/write/fetch × kernel/user mode, against a model,
bare and virtualized (so the shadow page tables are held to the same rules).
"""
from __future__ import annotations

import itertools

import pytest

from asm.assembler import assemble
from vcpu import isa
from vcpu.isa import Cause

from .runners import MODES, run_image

OPERAND_TEXT = {"reg": "r3", "imm": "1", "mem": "[r2]", "target": "after", "port": "0x10",
                "cr": "scratch"}

HARNESS = """
.entry boot
boot:
    li   r1, handler
    mtcr evec, r1
    li   r1, 1              ; KM; PKM = 0 so iret enters user mode
    mtcr status, r1
    li   r1, user
    mtcr epc, r1
    iret
handler:
    mfcr r10, cause
    mfcr r11, epc
    mfcr r12, badaddr
    out  0xff, r10          ; power off with the cause as status
user:
    li   r2, data
    li   r3, 7
    li   r4, after
    push r4                 ; for ret
here:
    {insn}
after:
    sys  99
data:
    .word 0, 0
"""


def _text(instr: isa.Instr) -> str:
    ops = ", ".join(OPERAND_TEXT[k] for k, _ in instr.syntax)
    if instr.name in ("jmp_r", "call_r"):
        ops = "r4"
    return f"{instr.mnemonic} {ops}".strip()


@pytest.fixture(scope="module")
def images():
    out = {}
    for instr in isa.INSTRUCTIONS:
        img = assemble(HARNESS.format(insn=_text(instr)), f"<{instr.name}>")
        out[instr.name] = (img, {s.name: s.value for s in img.symbols})
    return out


def test_every_sensitive_instruction_is_privileged():
    for instr in isa.INSTRUCTIONS:
        if instr.sensitive and instr.klass != isa.TRAPPING:
            assert instr.klass == isa.PRIVILEGED, instr.name
        if instr.klass == isa.PRIVILEGED:
            assert instr.sensitive, f"{instr.name} is privileged: say why it is sensitive"
    names = {i.mnemonic for i in isa.INSTRUCTIONS if i.klass == isa.PRIVILEGED}
    assert names == {"halt", "wfi", "in", "out", "cli", "sti", "iret", "mfcr", "mtcr",
                     "tlbflush"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", [i.name for i in isa.INSTRUCTIONS])
def test_theorem1_user_mode(images, core_kind, mode, name):
    instr = next(i for i in isa.INSTRUCTIONS if i.name == name)
    img, sym = images[name]
    r = run_image(img, core_kind, mode, max_steps=1000)
    assert r.kind == "poweroff", r.reason
    cause = r.status
    if instr.klass == isa.PRIVILEGED:
        assert cause == Cause.PRIVILEGED and r.regs[11] == sym["here"]
    elif instr.mnemonic == "sys":
        assert cause == Cause.SYSCALL and r.regs[12] == 1 and r.regs[11] == sym["after"]
    elif instr.mnemonic == "brk":
        assert cause == Cause.BREAKPOINT and r.regs[11] == sym["after"]
    else:
        # Innocuous: it ran, and the program reached the closing `sys 99`.
        assert cause == Cause.SYSCALL and r.regs[12] == 99, (name, cause)


ACCESS = """
.equ PDIR, 0x8000
.equ PT0, 0x9000
.equ PT1, 0xa000
.equ TARGET, 0x400000
.entry boot
boot:
    li   r1, handler
    mtcr evec, r1
    li   r2, 0
    li   r3, 16
ident:                          ; identity-map the 16 pages, P|W|U
    shl  r4, r2, 12
    or   r4, r4, 7
    shl  r5, r2, 2
    st   r4, [r5 + PT0]
    add  r2, r2, 1
    blt  r2, r3, ident
    li   r6, PDIR
    li   r4, PT0 | 7
    st   r4, [r6]
    li   r7, params
    ld   r4, [r7]               ; directory bits under test
    or   r4, r4, PT1
    st   r4, [r6 + 4]
    ld   r4, [r7 + 4]           ; table bits under test
    or   r4, r4, 0x5000
    li   r6, PT1
    st   r4, [r6]
    li   r1, PDIR
    mtcr ptbr, r1
    ld   r8, [r7 + 8]           ; 0 read, 1 write, 2 fetch
    ld   r1, [r7 + 12]          ; 8 = kernel (PKM), 0 = user
    or   r1, r1, 0b101          ; KM | PG now; iret takes KM from PKM
    mtcr status, r1
    li   r1, probe
    mtcr epc, r1
    iret
probe:
    li   r6, TARGET
    li   r9, 0
    li   r5, 0
    beq  r8, r5, do_read
    li   r5, 1
    beq  r8, r5, do_write
    jmp  r6
do_read:
    ld   r5, [r6]
    sys  5
do_write:
    st   r5, [r6]
    sys  5
handler:
    mfcr r10, cause
    mfcr r11, badaddr
    out  0xff, r10
params:
    .word 0, 0, 0, 0
.org 0x5000
    li   r9, 77
    sys  5
"""


@pytest.fixture(scope="module")
def access_image():
    return assemble(ACCESS, "<access>")


def _allowed(pde: int, pte: int, access: int, kernel: bool) -> bool:
    rights = pde & pte
    if not (pde & 1 and pte & 1):
        return False
    if not kernel and not rights & 4:
        return False
    return not (access == 1 and not rights & 2)


@pytest.mark.parametrize("mode", MODES)
def test_page_permission_matrix(access_image, core_kind, mode):
    from vcpu.image import Image
    params = next(s.value for s in access_image.symbols if s.name == "params")
    failures = []
    cases = itertools.product(range(8), range(8), range(3), (True, False))
    for pde, pte, access, kernel in cases:
        segs = []
        for addr, data in access_image.segments:
            if addr <= params < addr + len(data):
                data = bytearray(data)
                off = params - addr
                for i, v in enumerate((pde, pte, access, 8 if kernel else 0)):
                    data[off + 4 * i:off + 4 * i + 4] = v.to_bytes(4, "little")
                data = bytes(data)
            segs.append((addr, data))
        img = Image(access_image.entry, segs, access_image.symbols)
        r = run_image(img, core_kind, mode, max_steps=2000)
        ok = _allowed(pde, pte, access, kernel)
        want = (1, 5) if ok else (5 + access, 0x400000)
        got = (r.status, r.regs[11])
        if r.kind != "poweroff" or got != want or (ok and access == 2 and r.regs[9] != 77):
            failures.append((pde, pte, access, kernel, r.kind, got, want))
    assert not failures, failures[:10]
