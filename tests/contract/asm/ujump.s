; A user program that jumps to the handler's address takes an ordinary privileged-instruction
; fault there (paging off): the handler's first instruction is privileged in user mode.
.entry start
.include "blib.s"
start:
    li   r1, handler
    mtcr evec, r1
    li   r1, 1                  ; KM = 1, PKM = 0, PIE = 0: iret drops to user mode
    mtcr status, r1
    li   r1, user
    mtcr epc, r1
    iret
handler:
    mfcr r1, cause              ; in user mode this instruction faults (cause 3)
    mfcr r2, epc
    mfcr r3, status
    push r3
    push r2
    call putd                   ; 3
    call sp_
    pop  r2
    li   r1, 'y'
    li   r4, handler
    beq  r2, r4, epc_ok         ; epc = the faulting instruction = the handler's address
    li   r1, 'n'
epc_ok:
    call putc
    call sp_
    pop  r3
    and  r1, r3, 0b11001        ; KM = 1, PKM = 0 (came from user mode), PIE = 0
    call putd
    call nl
    halt
user:
    li   sp, 0x8000
    jmp  handler
