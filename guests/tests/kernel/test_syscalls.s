; A small kernel, tested from the inside: the trap path from user mode.
;
; The kernel sets evec, runs user programs in user mode (paging off) and serves their
; traps on its own trap stack (the user's sp is saved and restored through `scratch`):
;   sys 1  putc(r1)           print a character
;   sys 2  getpid() -> r1     always 7
;   sys 3  add(r1, r2) -> r1  r1 + r2
;   sys 4  exit(r1)           back to the kernel with status r1
;   sys n  (other)            r1 = -1
;   brk                       counted, then the program goes on
;   any fault                 the program is killed: the kernel gets 1000 + cause
; Then it checks with TAP what the programs saw and what the kernel saw: return values,
; registers and sp kept across a syscall, epc for sys and for faults, and that a user
; program cannot halt the machine, power it off, mask interrupts or divide by zero
; without being killed.
.entry main
.include "../../lib/tap.s"

.equ KSTACK, 0xE000                 ; the trap stack (grows down)
.equ USTACK, 0xC000                 ; the user programs' stack
.equ KM, 1
.equ PKM, 8

.macro LOADW reg, label
    li   \reg, \label
    ld   \reg, [\reg]
.endm

; RUN prog: r1 = the result of running user program `prog`
.macro RUN prog
    li   r1, \prog
    call run_user
.endm

main:
    li   r1, trap_entry
    mtcr evec, r1
    PLAN 19

    RUN  user_calls
    CHECK_EQ r1, 5, "exit(5) returns 5 to the kernel"
    LOADW r2, u_add
    CHECK_EQ r2, 42, "sys 3: add(40, 2) = 42"
    LOADW r2, u_r2
    CHECK_EQ r2, 2, "a syscall keeps the other argument registers"
    LOADW r2, u_pid
    CHECK_EQ r2, 7, "sys 2: getpid() = 7"
    LOADW r2, u_unknown
    CHECK_EQ r2, -1, "an unknown syscall returns -1"
    LOADW r2, brk_count
    CHECK_EQ r2, 2, "two brk traps served, the program went on"
    LOADW r2, u_regs
    CHECK_EQ r2, 121, "callee registers survive the trap path"
    LOADW r2, u_sp
    CHECK_EQ r2, 0, "the user sp is the same after each trap"
    LOADW r2, sys_epc
    CHECK_EQ r2, u_after_exit, "sys: epc is the instruction after it"
    LOADW r2, sys_status
    CHECK_EQ r2, KM, "a trap from user mode: KM on, PKM off"
    mfcr r2, status
    and  r2, r2, KM
    CHECK_EQ r2, KM, "the kernel is back in kernel mode"

    RUN  user_cli
    CHECK_EQ r1, 1003, "cli in user mode: killed, privileged instruction (3)"
    LOADW r2, killed_epc
    CHECK_EQ r2, u_cli_at, "epc is the cli"
    RUN  user_halt
    CHECK_EQ r1, 1003, "halt in user mode: killed, the machine runs on"
    RUN  user_poweroff
    CHECK_EQ r1, 1003, "out 0xff in user mode: killed, no power-off"
    RUN  user_div
    CHECK_EQ r1, 1008, "divide by zero: killed, cause 8"
    LOADW r2, killed_epc
    CHECK_EQ r2, u_div_at, "epc is the div"
    RUN  user_illegal
    CHECK_EQ r1, 1004, "an undefined opcode: killed, cause 4"
    RUN  user_mtcr
    CHECK_EQ r1, 1003, "mtcr evec in user mode: killed"
    DONE

; run_user: run the user program at r1 on USTACK; r1 = its exit status, or 1000 + cause
; when it was killed. Keeps every other register.
run_user:
    push r2
    push r3
    push r4
    push r5
    push r6
    push r7
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    li   r2, kernel_sp
    st   sp, [r2]
    mtcr epc, r1
    li   r2, KM                     ; PKM = 0, PIE = 0: iret enters user mode
    mtcr status, r2
    li   sp, USTACK
    iret
run_user_return:                    ; the trap handler comes here, r1 = the result
    li   r2, kernel_sp
    ld   sp, [r2]
    pop  r14
    pop  r13
    pop  r12
    pop  r11
    pop  r10
    pop  r9
    pop  r8
    pop  r7
    pop  r6
    pop  r5
    pop  r4
    pop  r3
    pop  r2
    ret

; ---- the trap path ----------------------------------------------------------------------
trap_entry:
    mtcr scratch, r1                ; free r1 to switch stacks
    li   r1, user_sp
    st   sp, [r1]
    li   sp, KSTACK
    mfcr r1, scratch
    push r1                         ; [sp + 8]: user r1 (argument, result)
    push r2                         ; [sp + 4]: user r2
    push r3                         ; [sp + 0]
    mfcr r2, status
    li   r3, sys_status
    st   r2, [r3]
    mfcr r2, cause
    li   r3, 1
    beq  r2, r3, t_sys
    li   r3, 2
    beq  r2, r3, t_brk
    mfcr r1, epc                    ; a fault: kill the program
    li   r3, killed_epc
    st   r1, [r3]
    add  r1, r2, 1000
    jmp  t_to_kernel
t_brk:
    li   r3, brk_count
    ld   r1, [r3]
    add  r1, r1, 1
    st   r1, [r3]
    jmp  t_return
t_sys:
    mfcr r1, epc
    li   r3, sys_epc
    st   r1, [r3]
    mfcr r2, badaddr
    li   r3, 1
    beq  r2, r3, sys_putc
    li   r3, 2
    beq  r2, r3, sys_getpid
    li   r3, 3
    beq  r2, r3, sys_add
    li   r3, 4
    beq  r2, r3, sys_exit
    li   r1, -1
    st   r1, [sp + 8]
    jmp  t_return
sys_putc:
    ld   r1, [sp + 8]
    out  0x10, r1
    jmp  t_return
sys_getpid:
    li   r1, 7
    st   r1, [sp + 8]
    jmp  t_return
sys_add:
    ld   r1, [sp + 8]
    ld   r2, [sp + 4]
    add  r1, r1, r2
    st   r1, [sp + 8]
    jmp  t_return
sys_exit:
    ld   r1, [sp + 8]
    jmp  t_to_kernel
t_return:                           ; back to the user program
    pop  r3
    pop  r2
    pop  r1
    mtcr scratch, r1
    li   r1, user_sp
    ld   sp, [r1]
    mfcr r1, scratch
    iret
t_to_kernel:                        ; r1 = the result for run_user
    mfcr r2, status
    or   r2, r2, PKM
    mtcr status, r2
    li   r2, run_user_return
    mtcr epc, r2
    iret

; ---- user programs (user mode: no out, no halt, no control registers) --------------------
user_calls:
    mov  r9, sp
    li   r5, 55
    li   r6, 66
    li   r1, 40
    li   r2, 2
    sys  3
    li   r3, u_add
    st   r1, [r3]
    li   r3, u_r2
    st   r2, [r3]
    sys  2
    li   r3, u_pid
    st   r1, [r3]
    sys  99
    li   r3, u_unknown
    st   r1, [r3]
    brk
    brk
    add  r4, r5, r6
    li   r3, u_regs
    st   r4, [r3]
    sub  r4, sp, r9
    li   r3, u_sp
    st   r4, [r3]
    li   r4, hello                  ; "# hello from user mode\n", a TAP diagnostic
u_print:
    ldb  r1, [r4]
    li   r3, 0
    beq  r1, r3, u_printed
    sys  1
    add  r4, r4, 1
    jmp  u_print
u_printed:
    li   r1, 5
    sys  4
u_after_exit:
    jmp  u_after_exit               ; exit does not return

user_cli:
    li   r1, 1
u_cli_at:
    cli
    jmp  user_cli

user_halt:
    halt
    jmp  user_halt

user_poweroff:
    li   r1, 0
    out  0xff, r1
    jmp  user_poweroff

user_div:
    li   r1, 1
    li   r2, 0
u_div_at:
    div  r1, r1, r2
    jmp  user_div

user_illegal:
    .byte 0x00

user_mtcr:
    li   r1, 0
    mtcr evec, r1
    jmp  user_mtcr

hello:      .asciz "# hello from user mode\n"
kernel_sp:  .word 0
user_sp:    .word 0
brk_count:  .word 0
killed_epc: .word 0
sys_epc:    .word 0
sys_status: .word 0
u_add:      .word 0
u_r2:       .word 0
u_pid:      .word 0
u_unknown:  .word 0
u_regs:     .word 0
u_sp:       .word 0
