; test_threads.s -- kernel-level threads, futexes and user-level threads.
;
; Run: hv os guests/os/tests/test_threads.s     (also run with --cpus 4)
; os-cpus: 1 4
.include "user.s"
.include "utap.s"

main:
    PLAN 22

    ; --- create and join ---
    li   r1, t_double
    li   r2, 21
    call thread_create
    mov  r8, r1
    CHECK_EQ r8, 2, "thread_create returns the new tid (2)"
    mov  r1, r8
    call thread_join
    CHECK_EQ r1, 42, "thread_join returns the value it returned (ret = thread_exit)"
    mov  r1, r8
    call thread_join
    CHECK_EQ r1, -3, "a thread is joined only once"
    li   r1, 999
    call thread_join
    CHECK_EQ r1, -3, "join of no such thread: -3"
    call gettid
    call thread_join
    CHECK_EQ r1, -1, "join of itself: -1"

    li   r1, t_exit
    li   r2, 5
    call thread_create
    call thread_join
    CHECK_EQ r1, 105, "thread_exit(v) ends the thread with v"

    li   r1, t_tid
    li   r2, 0
    call thread_create
    mov  r8, r1
    call thread_join
    CHECK_EQR r1, r8, "gettid in a thread is its tid"
    call getpid
    CHECK_EQ r1, 1, "a thread is in its creator's process"

    ; --- ten threads share memory: each adds its arg to a slot ---
    li   r9, 0
spawn:
    li   r1, t_store
    mov  r2, r9
    call thread_create
    li   r2, tids
    shl  r3, r9, 2
    add  r2, r2, r3
    st   r1, [r2]
    add  r9, r9, 1
    li   r1, 10
    blt  r9, r1, spawn
    li   r9, 0
    li   r10, 0                 ; the sum of their values
join_all:
    li   r2, tids
    shl  r3, r9, 2
    add  r2, r2, r3
    ld   r1, [r2]
    call thread_join
    add  r10, r10, r1
    add  r9, r9, 1
    li   r1, 10
    blt  r9, r1, join_all
    CHECK_EQ r10, 45, "ten threads: the values 0..9 come back"
    li   r1, slots
    ld   r2, [r1 + 36]
    CHECK_EQ r2, 109, "the threads wrote the shared memory"

    ; --- a thread joined before it ends: join blocks ---
    li   r1, t_slow
    li   r2, 3
    call thread_create
    call thread_join
    CHECK_EQ r1, 3, "join waits for a thread that sleeps first"

    ; --- futex: a thread waits, main wakes it ---
    li   r1, t_futex
    li   r2, 0
    call thread_create
    mov  r8, r1
    li   r1, 4
    call sleep                  ; let it block in futex_wait
    li   r1, fword
    li   r2, 1
    st   r2, [r1]
    li   r2, 5
    call futex_wake
    CHECK_EQ r1, 1, "futex_wake wakes the one waiter"
    mov  r1, r8
    call thread_join
    CHECK_EQ r1, 0, "futex_wait returned 0 in the woken thread"

    ; --- sleep blocks only the calling thread ---
    li   r1, t_spin
    li   r2, 0
    call thread_create
    mov  r8, r1
    li   r1, 3
    call sleep
    li   r1, spins
    ld   r1, [r1]
    li   r2, 0
    OK   r1, "while main sleeps, another kernel thread runs"
    li   r1, stop
    li   r2, 1
    st   r2, [r1]
    mov  r1, r8
    call thread_join

    ; --- user-level threads ---
    li   r1, u_worker
    li   r2, 1
    call uthread_create
    mov  r8, r1
    CHECK_EQ r8, 1, "uthread_create returns an id"
    li   r1, u_worker
    li   r2, 2
    call uthread_create
    mov  r9, r1
    mov  r1, r8
    call uthread_join
    CHECK_EQ r1, 10, "uthread_join returns the value (1 x 10)"
    mov  r1, r9
    call uthread_join
    CHECK_EQ r1, 20, "...and the other's (2 x 10)"
    li   r1, trace
    ld   r2, [r1]
    CHECK_EQ r2, 0x1212, "they took turns at every uthread_yield"
    mov  r1, r8
    call uthread_join
    CHECK_EQ r1, -3, "a finished user thread is joined once"
    call uthread_yield
    CHECK_EQ r1, 0, "uthread_yield with nobody else: 0"
    call gettid
    CHECK_EQ r1, 1, "user-level threads all run in one kernel thread"

    ; --- a blocking call in one user-level thread stalls its siblings ---
    li   r1, u_counter
    li   r2, 0
    call uthread_create
    mov  r9, r1
    call uthread_yield          ; let it start counting
    call uthread_yield
    li   r1, ucount
    ld   r8, [r1]
    li   r1, 3
    call sleep                  ; the whole process sleeps: the counter cannot move
    li   r1, ucount
    ld   r1, [r1]
    sub  r1, r1, r8
    CHECK_EQ r1, 0, "while one user-level thread sleeps, its sibling does not run"
    li   r1, ustop
    li   r2, 1
    st   r2, [r1]
    mov  r1, r9
    call uthread_join

    DONE

; --- kernel-thread bodies ---
t_double:
    add  r1, r1, r1
    ret
t_exit:
    add  r1, r1, 100
    call thread_exit
t_tid:
    call gettid
    ret
t_store:
    mov  r8, r1
    add  r2, r1, 100
    shl  r3, r1, 2
    li   r4, slots
    add  r4, r4, r3
    st   r2, [r4]
    call yield
    mov  r1, r8
    ret
t_slow:
    mov  r8, r1
    li   r1, 3
    call sleep
    mov  r1, r8
    ret
t_futex:
    li   r1, fword
    li   r2, 0
    call futex_wait
    ret
t_spin:
    li   r2, spins
    li   r3, stop
ts_loop:
    ld   r1, [r2]
    add  r1, r1, 1
    st   r1, [r2]
    ld   r1, [r3]
    li   r4, 0
    beq  r1, r4, ts_loop
    li   r1, 0
    ret
t_mutex:
    li   r8, 1000
tm_loop:
    li   r1, lock
    call mutex_lock
    li   r2, counter
    ld   r1, [r2]
    add  r1, r1, 1
    nop                         ; widen the window a preemption could fall into
    nop
    st   r1, [r2]
    li   r1, lock
    call mutex_unlock
    sub  r8, r8, 1
    li   r1, 0
    bne  r8, r1, tm_loop
    ret

; --- user-thread body: log its id in `trace` twice, yielding in between ---
u_worker:
    mov  r8, r1
    call u_log
    call uthread_yield
    call u_log
    call uthread_yield
    mul  r1, r8, 10
    ret
u_counter:
    li   r2, ucount
    ld   r3, [r2]
    add  r3, r3, 1
    st   r3, [r2]
    call uthread_yield
    li   r2, ustop
    ld   r2, [r2]
    li   r3, 0
    beq  r2, r3, u_counter
    li   r1, 0
    ret
u_log:
    li   r2, trace
    ld   r3, [r2]
    shl  r3, r3, 4
    or   r3, r3, r8
    st   r3, [r2]
    ret

    .align 4
tids:       .space 40
slots:      .space 40
fword:      .word 0
spins:      .word 0
stop:       .word 0
lock:       .word 0
counter:    .word 0
trace:      .word 0
ucount:     .word 0
ustop:      .word 0
