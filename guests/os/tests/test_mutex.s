; test_mutex.s -- mutual exclusion: a counter under mutex_lock is exact under preemption.
;
; Three kernel threads each add 1 to a shared counter 500 times, with the increment
; spread over several instructions so that a timer tick often falls inside it. With the
; mutex the total is exact; without it, updates are lost (the second count shows that the
; test can tell). With `; os-cpus: 4` in a copy of this file the same runs on 4 CPUs.
; Run: hv os guests/os/tests/test_mutex.s     (also run with --cpus 4)
; os-cpus: 1 4
.include "user.s"
.include "utap.s"

.equ N, 500

main:
    PLAN 4
    li   r1, t_locked
    call three
    li   r1, counter
    ld   r1, [r1]
    CHECK_EQ r1, 3 * N, "3 threads x 500 locked increments = 1500"
    li   r1, lock
    ld   r1, [r1]
    CHECK_EQ r1, 0, "the mutex is free at the end"

    li   r1, counter
    li   r2, 0
    st   r2, [r1]
    li   r1, t_unlocked
    call three
    li   r1, counter
    ld   r1, [r1]
    li   r2, 3 * N
    sub  r1, r2, r1
    li   r2, 0
    li   r3, 0
    bge  r2, r1, no_loss
    li   r3, 1
no_loss:
    OK   r3, "without the mutex, updates are lost"

    ; futex_wake's count: two waiters, wake at most one, then the rest
    li   r1, t_wait
    li   r2, 0
    call thread_create
    mov  r8, r1
    li   r1, t_wait
    li   r2, 0
    call thread_create
    mov  r9, r1
    li   r1, 3
    call sleep
    li   r1, fword
    li   r2, 1
    st   r2, [r1]
    li   r2, 1
    call futex_wake
    mov  r10, r1
    li   r1, fword
    li   r2, 10
    call futex_wake
    add  r10, r10, r1
    mov  r1, r8
    call thread_join
    mov  r1, r9
    call thread_join
    CHECK_EQ r10, 2, "futex_wake(addr, 1) then (addr, 10): 1 + 1 woken"
    DONE

; three(body): run body in 3 kernel threads and join them
three:
    push r8
    push r9
    push r10
    mov  r10, r1
    li   r8, 0
three_spawn:
    mov  r1, r10
    li   r2, 0
    call thread_create
    shl  r2, r8, 2
    li   r3, tids
    add  r2, r2, r3
    st   r1, [r2]
    add  r8, r8, 1
    li   r1, 3
    blt  r8, r1, three_spawn
    li   r8, 0
three_join:
    shl  r2, r8, 2
    li   r3, tids
    add  r2, r2, r3
    ld   r1, [r2]
    call thread_join
    add  r8, r8, 1
    li   r1, 3
    blt  r8, r1, three_join
    pop  r10
    pop  r9
    pop  r8
    ret

t_locked:
    li   r8, N
tl_loop:
    li   r1, lock
    call mutex_lock
    call bump
    li   r1, lock
    call mutex_unlock
    sub  r8, r8, 1
    li   r1, 0
    bne  r8, r1, tl_loop
    ret

t_unlocked:
    li   r8, N
tu_loop:
    call bump
    sub  r8, r8, 1
    li   r1, 0
    bne  r8, r1, tu_loop
    ret

; bump: counter = counter + 1, slowly (a read-modify-write a tick can split)
bump:
    li   r2, counter
    ld   r1, [r2]
    add  r1, r1, 1
    li   r3, 10
bump_wait:
    sub  r3, r3, 1
    li   r4, 0
    bne  r3, r4, bump_wait
    st   r1, [r2]
    ret

t_wait:
    li   r1, fword
    li   r2, 0
    call futex_wait
    ret

    .align 4
tids:       .space 12
lock:       .word 0
counter:    .word 0
fword:      .word 0
