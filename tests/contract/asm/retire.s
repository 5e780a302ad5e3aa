; sys and brk retire; a faulting instruction does not (brief §2): counted by the timer.
; Every trap goes to H; r12 is where H resumes a sys/brk/fault, r13 the next phase.
.entry start
start:
    li   r1, H
    mtcr evec, r1
    li   r0, 0
    ; phase 1: brk retires. After `out`: sti 1, brk 2, H: mfcr 3, li 4, beq 5, mtcr 6,
    ; iret 7 -> the tick is delivered before the first instruction at r12 (epc = b1)
    li   r12, b1
    li   r11, b1
    li   r13, phase2
    li   r1, 7
    out  0x20, r1
    sti
    brk
b1: nop
    nop
    nop
phase2:                         ; the same with sys
    li   r12, s1
    li   r11, s1
    li   r13, phase3
    li   r1, 7
    out  0x20, r1
    sti
    sys  3
s1: nop
    nop
    nop
phase3:                         ; a divide fault does not retire: one more instruction
    li   r12, d1                ; (the nop at d1) retires before the tick: epc = d2
    li   r11, d2
    li   r13, finish
    li   r2, 0
    li   r1, 7
    out  0x20, r1
    sti
    div  r1, r1, r2
d1: nop
d2: nop
    nop
finish:
    li   r1, 10
    out  0x10, r1
    halt
H:
    mfcr r1, cause
    li   r2, 16
    beq  r1, r2, tick
    mtcr epc, r12
    iret
tick:
    out  0x20, r0               ; timer off
    mfcr r1, epc
    li   r2, 'y'
    beq  r1, r11, tick_ok
    li   r2, 'n'
tick_ok:
    out  0x10, r2
    cli
    mtcr epc, r13
    li   r1, 9                  ; KM | PKM: iret stays in kernel mode, IE = 0
    mtcr status, r1
    iret
