; At least 16 processes at once, then fork returns -4 (brief §9); nothing stops the kernel.
.include "user.s"
.include "ct.s"

main:
    li   r8, 1                  ; processes alive (this one)
more:
    call fork
    li   r2, 0
    beq  r1, r2, block
    blt  r1, r2, full
    add  r8, r8, 1
    li   r2, 200
    blt  r8, r2, more
full:
    mov  r9, r1
    li   r1, s_16
    li   r2, 16
    bge  r8, r2, enough
    li   r1, s_few
enough:
    call say
    mov  r2, r9
    li   r1, s_limit
    call show
    li   r1, 0x7ff00000         ; out of memory: -4, and the process goes on
    call sbrk
    mov  r2, r1
    li   r1, s_sbrk
    call show
    li   r1, 0                  ; pid 1 exits: the machine powers off
    ret
block:                          ; a child waits forever
    li   r1, never
    li   r2, 0
    call futex_wait
    jmp  block
never:  .word 0
s_16:   .asciz "16 processes"
s_few:  .asciz "FEWER than 16 processes"
s_limit: .asciz "fork-limit "
s_sbrk: .asciz "sbrk-huge "
