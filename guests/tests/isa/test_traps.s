; Traps and control registers: mfcr/mtcr, the status bits, sys, brk, illegal
; instructions, iret, the timer interrupt, and every privileged instruction trapping in
; user mode (the Popek-Goldberg property: sensitive instructions are privileged).
.entry main
.include "../../lib/tap.s"
.include "../lib/catch.s"

.equ KM, 1
.equ IE, 2
.equ PKM, 8
.equ PIE, 16

; PRIV insn / PRIV2 op, a, b: run one privileged instruction in user mode, and count it
; in user_priv_traps when it trapped with cause 3
.macro PRIV insn
    CATCH_AT next\@
    \insn
next\@:
    call count_priv
.endm

.macro PRIV2 op, a, b
    CATCH_AT next\@
    \op \a, \b
next\@:
    call count_priv
.endm

main:
    mfcr r1, status
    mfcr r2, evec
    mfcr r3, epc
    mfcr r4, cause
    PLAN 32
    CHECK_EQ r1, KM, "boot: status is kernel mode only"
    CHECK_EQ r2, 0, "boot: evec is 0"
    CHECK_EQ r3, 0, "boot: epc is 0"
    CHECK_EQ r4, 0, "boot: cause is 0"

    call catch_init
    mfcr r1, evec
    CHECK_EQ r1, catch_handler, "mtcr evec / mfcr evec"
    li   r1, 0xdeadbeef
    mtcr scratch, r1
    mfcr r2, scratch
    CHECK_EQ r2, 0xdeadbeef, "scratch holds any value"
    li   r1, 0xffffffe3
    mtcr status, r1
    mfcr r2, status
    CHECK_EQ r2, KM | IE, "status: other bits read as 0"
    cli
    mfcr r2, status
    CHECK_EQ r2, KM, "cli clears IE"
    sti
    mfcr r2, status
    CHECK_EQ r2, KM | IE, "sti sets IE"
    cli

    sys  42
sys_next:
    LOADW r1, catch_cause
    CHECK_EQ r1, 1, "sys: cause 1"
    LOADW r1, catch_badaddr
    CHECK_EQ r1, 42, "sys n: badaddr = n"
    LOADW r1, catch_epc
    CHECK_EQ r1, sys_next, "sys: epc is the next instruction"
    LOADW r1, catch_status
    CHECK_EQ r1, KM | PKM, "in the handler: KM, PKM from kernel mode, IE off"

    brk
brk_next:
    LOADW r1, catch_cause
    CHECK_EQ r1, 2, "brk: cause 2"
    LOADW r1, catch_epc
    CHECK_EQ r1, brk_next, "brk: epc is the next instruction"
    LOADW r1, catch_badaddr
    CHECK_EQ r1, 0, "brk: badaddr 0"

    CATCH_AT ill_next
ill_at:
    .byte 0x00                      ; opcode 0 is undefined
ill_next:
    LOADW r1, catch_cause
    CHECK_EQ r1, 4, "opcode 0x00: illegal instruction, cause 4"
    LOADW r1, catch_epc
    CHECK_EQ r1, ill_at, "illegal: epc is the faulting instruction"
    CATCH_AT badcr_next
badcr_at:
    .byte 0x67, 0x1F                ; mfcr r1, control register 15 (there is none)
badcr_next:
    LOADW r1, catch_cause
    CHECK_EQ r1, 4, "mfcr of a missing control register: cause 4"
    LOADW r1, catch_epc
    CHECK_EQ r1, badcr_at, "at the mfcr"

    ; iret: KM <- PKM, IE <- PIE, pc <- epc
    li   r1, KM | PKM
    mtcr status, r1
    li   r1, after_iret
    mtcr epc, r1
    iret
    FAIL "iret jumps to epc"
after_iret:
    PASS "iret jumps to epc"
    mfcr r1, status
    CHECK_EQ r1, KM | PKM, "iret to kernel mode keeps PKM, IE from PIE (0)"

    ; the timer: an interrupt after 50 instructions, taken by wfi with IE on
    LOADW r5, catch_count
    li   r1, 50
    out  0x20, r1
    sti
    wfi
    cli
    LOADW r1, catch_cause
    CHECK_EQ r1, 16, "timer interrupt: cause 16"
    LOADW r1, catch_status
    CHECK_EQ r1, KM | PKM | PIE, "in the handler: PIE saved, IE off"
    LOADW r6, catch_count
    sub  r6, r6, r5
    CHECK_EQ r6, 1, "one timer interrupt"
    li   r1, 0
    mtcr epc, r1

    ; user mode: every privileged instruction traps with cause 3
    LOADW r5, catch_count
    li   r1, KM                     ; PKM = 0: iret enters user mode
    mtcr status, r1
    li   r1, user
    mtcr epc, r1
    iret
back_in_kernel:
    LOADW r6, catch_count
    sub  r6, r6, r5
    CHECK_EQ r6, 12, "user mode: 10 privileged instructions, a sys and the exit trap"
    LOADW r1, user_priv_traps
    CHECK_EQ r1, 10, "each privileged instruction trapped with cause 3"
    LOADW r1, user_sys_status
    CHECK_EQ r1, KM, "a trap from user mode leaves PKM 0"
    LOADW r1, user_sys_epc
    CHECK_EQ r1, user_sys_next, "sys from user mode: epc is the next instruction"
    LOADW r1, user_cli_epc
    CHECK_EQ r1, user_cli, "privileged: epc is the faulting instruction"
    mfcr r1, status
    and  r1, r1, KM
    CHECK_EQ r1, KM, "back in kernel mode"
    li   r1, 1234
    LOADW r2, user_r7
    CHECK_EQ r2, 1234, "user code computed with registers as usual"
    DONE

; User mode, paging off: the same memory, but no privileged instruction runs.
user:
    li   r7, 1000
    add  r7, r7, 234
    li   r1, user_r7
    st   r7, [r1]
    li   r8, 0
    PRIV halt
    PRIV wfi
    PRIV2 in, r2, 0x11
    PRIV2 out, 0x10, r2
    CATCH_AT user_cli_next
user_cli:
    cli
user_cli_next:
    LOADW r1, catch_epc
    li   r2, user_cli_epc
    st   r1, [r2]
    call count_priv
    PRIV sti
    PRIV iret
    PRIV2 mfcr, r2, status
    PRIV2 mtcr, status, r8
    PRIV tlbflush
    sys  7
user_sys_next:
    LOADW r1, catch_status
    li   r2, user_sys_status
    st   r1, [r2]
    LOADW r1, catch_epc
    li   r2, user_sys_epc
    st   r1, [r2]
    CATCH_IN_KERNEL back_in_kernel
    sys  0                          ; back to the kernel
    jmp  user                       ; not reached

; count_priv: user_priv_traps += 1 when the last trap had cause 3 (runs in user mode)
count_priv:
    push r1
    push r2
    LOADW r1, catch_cause
    li   r2, 3
    bne  r1, r2, count_priv_done
    li   r2, user_priv_traps
    ld   r1, [r2]
    add  r1, r1, 1
    st   r1, [r2]
count_priv_done:
    pop  r2
    pop  r1
    ret

user_r7:         .word 0
user_priv_traps: .word 0
user_sys_status: .word 0
user_sys_epc:    .word 0
user_cli_epc:    .word 0
