; A handler at address 0 with evec never written: every trap goes to evec = 0.
.org 0
handler:
    mfcr r1, cause
    call putd
    call sp_
    mfcr r1, badaddr
    call putd
    call sp_
    mfcr r1, epc
    li   r2, after_sys
    beq  r1, r2, was_sys
    li   r2, after_brk
    beq  r1, r2, was_brk
    li   r2, at_div
    beq  r1, r2, was_div
    li   r1, '?'
    call putc
    halt
was_sys:
    li   r1, 's'
    call putc
    call nl
    iret
was_brk:
    li   r1, 'b'
    call putc
    call nl
    iret
was_div:
    li   r1, 'd'
    call putc
    call nl
    li   r1, 0xFF               ; power off with status 7
    li   r2, 7
    out  0xFF, r2
.include "blib.s"
.entry start
start:
    li   r1, 1
    li   r2, 0
    sys  42
after_sys:
    brk
after_brk:
    li   r2, 0                  ; the handler used r2
at_div:
    div  r1, r1, r2
    halt
