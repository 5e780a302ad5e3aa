; The user-level thread library (brief §9): create, yield, exit, join; one kernel thread.
.include "user.s"
.include "ct.s"

main:
    call gettid
    li   r2, maintid
    st   r1, [r2]
    li   r1, worker
    li   r2, 1
    call uthread_create
    mov  r8, r1
    li   r1, worker
    li   r2, 2
    call uthread_create
    mov  r9, r1
    sub  r2, r9, r8
    li   r1, s_ids
    li   r3, 0
    bne  r2, r3, ids_ok
    li   r1, s_idsame
ids_ok:
    call say
    mov  r1, r8
    call uthread_join
    mov  r2, r1
    li   r1, s_j1
    call show
    mov  r1, r9
    call uthread_join
    mov  r2, r1
    li   r1, s_j2
    call show
    li   r1, sum
    ld   r2, [r1]
    li   r1, s_sum
    call show
    li   r1, sametid
    ld   r2, [r1]
    li   r1, s_same
    call show
    li   r1, 0
    ret

worker:                         ; adds arg to sum three times, yielding between
    push r8
    push r9
    mov  r8, r1
    li   r9, 3
w_loop:
    li   r1, sum
    ld   r2, [r1]
    add  r2, r2, r8
    st   r2, [r1]
    call gettid                 ; the same kernel thread as main
    li   r2, maintid
    ld   r2, [r2]
    bne  r1, r2, w_other
    li   r1, sametid
    ld   r2, [r1]
    add  r2, r2, 1
    st   r2, [r1]
w_other:
    call uthread_yield
    sub  r9, r9, 1
    li   r1, 0
    bne  r9, r1, w_loop
    li   r1, 10
    mul  r1, r1, r8
    call uthread_exit

maintid: .word 0
sum:     .word 0
sametid: .word 0
s_ids:   .asciz "ids differ"
s_idsame: .asciz "ids SAME"
s_j1:    .asciz "join-1 "
s_j2:    .asciz "join-2 "
s_sum:   .asciz "sum "
s_same:  .asciz "same-kernel-thread "
