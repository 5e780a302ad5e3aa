; Nothing a user program does stops the kernel or another process (brief §9): an endless
; loop, a fork bomb, a thread bomb, bad pointers; pid 1 carries on and ends the machine.
.include "user.s"
.include "ct.s"

main:
    call fork                   ; a child that loops for ever
    li   r2, 0
    beq  r1, r2, loop_forever
    call fork                   ; a child that forks until the table is full, and whose
    li   r2, 0                  ; children do the same
    beq  r1, r2, fork_bomb
    call fork                   ; a child that creates threads until refused
    li   r2, 0
    beq  r1, r2, thread_bomb
    li   r1, 0xFFFFF000         ; bad pointers: -5, nothing else happens
    li   r2, 16
    call read
    mov  r2, r1
    li   r1, s_read
    call show
    li   r1, 50                 ; let the others run wild for a while
    call sleep
    li   r1, s_alive
    call say
    li   r1, 0                  ; pid 1 exits: the machine powers off with 0
    ret

loop_forever:
    jmp  loop_forever
fork_bomb:
    call fork
    jmp  fork_bomb
thread_bomb:
    li   r1, loop_forever
    li   r2, 0
    call thread_create
    li   r2, 0
    bge  r1, r2, thread_bomb
    jmp  loop_forever

s_read:  .asciz "read-bad "
s_alive: .asciz "pid 1 alive"
