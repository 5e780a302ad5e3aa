; The timer: `out 0x20, N` makes an interrupt pending after every N retired instructions
; from the next one on; it is delivered at an instruction boundary with IE = 1, epc = the
; next instruction.
.entry start
.include "blib.s"
start:
    li   r1, handler
    mtcr evec, r1
    li   r1, 10
    out  0x20, r1               ; counts from the next instruction
    sti                         ; 1
    nop                         ; 2
    nop                         ; 3
    nop                         ; 4
    nop                         ; 5
    nop                         ; 6
    nop                         ; 7
    nop                         ; 8
    nop                         ; 9
    nop                         ; 10: the interrupt is now pending, delivered before:
t1: nop
    nop
    halt
handler:
    li   r2, 0
    out  0x20, r2               ; timer off
    mfcr r1, cause
    call putd                   ; 16
    call sp_
    mfcr r3, epc
    li   r2, t1
    li   r1, 'y'
    beq  r3, r2, ok1
    li   r1, 'n'
ok1:
    call putc
    call sp_
    mfcr r1, status             ; KM=1, IE=0, PKM=1, PIE=1
    call putd
    call nl
    halt
