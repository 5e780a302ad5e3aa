"""Every trap goes to `evec`, whatever it holds (brief §2): a handler at address 0 that
the kernel never installed, and a user program that jumps to the handler's address (an
ordinary privileged-instruction or fetch fault). Both cores, bare and virtualized; the
one shutdown left (a kernel-mode fault of the instruction at evec) is in test_native.py
and the hostile guests."""
from __future__ import annotations

import pytest

from asm.assembler import assemble

from .runners import MODES, run_image

# The handler reports what it saw in r1..r4 and powers off.
HANDLER = """
handler:
    mfcr r1, cause
    mfcr r2, epc
    mfcr r3, badaddr
    mfcr r4, status
    halt
"""

HANDLER_AT_ZERO = """
; evec is never written: it stays 0 from boot, and the handler sits at 0.
.org 0
""" + HANDLER + """
.entry start
start:
    li   r5, 7
bad:
    div  r6, r5, 0              ; divide by zero, in kernel mode
    halt
"""

USER_JUMPS_TO_HANDLER = """
.entry start
start:
    li   r1, handler
    mtcr evec, r1
    li   r1, user
    mtcr epc, r1
    iret                        ; status = KM only: PKM = 0, so iret enters user mode
user:
    jmp  handler                ; its first instruction, mfcr, is privileged
.org 0x100
""" + HANDLER

USER_JUMPS_TO_HANDLER_PAGED = """
; Identity-mapped; page 0 (kernel code, the handler) is not a user page, page 3 is.
.entry start
start:
    li   r1, handler
    mtcr evec, r1
    li   r1, 0x1000
    mtcr ptbr, r1
    li   r1, 5                  ; KM | PG
    mtcr status, r1
    li   r1, user
    mtcr epc, r1
    iret
""" + HANDLER + """
.org 0x1000
    .word 0x2000 | 7            ; directory: one table, present, writable, user
.org 0x2000
    .word 0x0000 | 3, 0x1000 | 3, 0x2000 | 3, 0x3000 | 7
.org 0x3000
user:
    jmp  handler                ; fetching from a kernel page in user mode: cause 7
"""


def run_all(src: str, core_kind: str) -> dict:
    image = assemble(src, "<test>")
    return {mode: run_image(image, core_kind, mode, max_steps=1000) for mode in MODES}


def sym(src: str, name: str) -> int:
    return next(s.value for s in assemble(src, "<test>").symbols if s.name == name)


@pytest.mark.parametrize("mode", MODES)
def test_handler_at_zero_without_setting_evec(core_kind, mode):
    r = run_all(HANDLER_AT_ZERO, core_kind)[mode]
    assert r.kind == "poweroff", r.reason
    assert r.regs[1:5] == [8, sym(HANDLER_AT_ZERO, "bad"), 0, 1 | 8]   # divide; KM | PKM


@pytest.mark.parametrize("mode", MODES)
def test_user_jump_to_handler_is_a_privileged_fault(core_kind, mode):
    r = run_all(USER_JUMPS_TO_HANDLER, core_kind)[mode]
    h = sym(USER_JUMPS_TO_HANDLER, "handler")
    assert r.kind == "poweroff", r.reason
    assert r.regs[1:5] == [3, h, 0, 1]               # privileged; KM, PKM = 0 (from user)


@pytest.mark.parametrize("mode", MODES)
def test_user_jump_to_handler_with_paging_is_a_fetch_fault(core_kind, mode):
    r = run_all(USER_JUMPS_TO_HANDLER_PAGED, core_kind)[mode]
    h = sym(USER_JUMPS_TO_HANDLER_PAGED, "handler")
    assert r.kind == "poweroff", r.reason
    assert r.regs[1:5] == [7, h, h, 1 | 4]           # fetch fault at the handler; KM | PG


def test_bare_and_virtualized_agree(core_kind):
    for src in (HANDLER_AT_ZERO, USER_JUMPS_TO_HANDLER, USER_JUMPS_TO_HANDLER_PAGED):
        r = run_all(src, core_kind)
        assert (r["bare"].regs, r["bare"].icount) == (r["hv"].regs, r["hv"].icount)


@pytest.mark.parametrize("command", ["run", "boot"])
def test_a_kernel_without_a_handler_gets_the_friendly_stop(command, tmp_path):
    """evec never set, nothing at 0: the fault goes to 0, the illegal opcode there faults at
    evec in kernel mode, and the machine stops with 125 and a hint (brief §2)."""
    from tests.hvcli import hv
    src = tmp_path / "nohandler.s"
    src.write_text(".org 0x100\n.entry start\nstart:\n    li r1, 0\n    div r2, r1, r1\n    halt\n")
    st, out, err = hv(command, src)
    assert st == 125 and out == ""
    assert "double fault" in err and "no trap handler set" in err
