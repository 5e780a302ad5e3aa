; Kernel threads, futexes and mutexes (brief §9).
.include "user.s"
.include "ct.s"

main:
    ; returning from the entry is thread_exit(r1); the thread starts with r1 = arg
    li   r1, double
    li   r2, 21
    call thread_create
    mov  r8, r1
    call thread_join
    mov  r2, r1
    li   r1, s_ret
    call show
    mov  r1, r8                 ; joined already: -3
    call thread_join
    mov  r2, r1
    li   r1, s_join2
    call show

    ; thread_exit(v) explicitly; gettid in the thread is the tid thread_create gave
    li   r1, explicit
    li   r2, 0
    call thread_create
    mov  r8, r1
    call thread_join
    mov  r2, r1
    li   r1, s_exit
    call show
    li   r1, tidbox
    ld   r2, [r1]
    sub  r2, r2, r8
    li   r1, s_tid
    call show
    call gettid                 ; and it differs from ours
    sub  r2, r1, r8
    li   r3, 0
    li   r1, s_tiddiff
    bne  r2, r3, tid_differs
    li   r1, s_tidsame
tid_differs:
    call say

    ; futex: three waiters on fword == 0; wake(2) wakes 2, wake(10) the last one
    li   r9, 3
mkwaiter:
    li   r1, waiter
    li   r2, 0
    call thread_create
    sub  r9, r9, 1
    li   r2, 0
    bne  r9, r2, mkwaiter
    li   r1, 20                 ; let all three block
    call sleep
    li   r1, fword
    li   r2, 1
    st   r2, [r1]
    li   r2, 2
    call futex_wake
    mov  r2, r1
    li   r1, s_wake2
    call show
    li   r1, fword
    li   r2, 10
    call futex_wake
    mov  r2, r1
    li   r1, s_wake10
    call show
    li   r1, 20
    call sleep
    li   r1, woke
    ld   r2, [r1]
    li   r1, s_woke
    call show

    ; mutex: two threads add 300 each to a counter, yielding inside the lock
    li   r1, adder
    li   r2, 0
    call thread_create
    mov  r8, r1
    li   r1, adder
    li   r2, 0
    call thread_create
    mov  r9, r1
    mov  r1, r8
    call thread_join
    mov  r1, r9
    call thread_join
    li   r1, counter
    ld   r2, [r1]
    li   r1, s_count
    call show
    li   r1, mtx
    ld   r2, [r1]
    li   r1, s_mtx
    call show

    ; exit from any thread ends every thread of the process
    call fork
    li   r2, 0
    bne  r1, r2, exit_parent
    li   r1, spinner
    li   r2, 0
    call thread_create
    li   r1, exiter
    li   r2, 0
    call thread_create
spin_main:
    call yield
    jmp  spin_main
exit_parent:
    li   r1, -1
    call wait
    li   r1, s_exitall
    call show

    ; at least 64 threads at once, then -4
    li   r8, 1                  ; threads alive (main)
more_threads:
    li   r1, blocker
    li   r2, 0
    call thread_create
    li   r2, 0
    blt  r1, r2, thr_full
    add  r8, r8, 1
    li   r2, 1000
    blt  r8, r2, more_threads
thr_full:
    mov  r9, r1
    li   r1, s_64
    li   r2, 64
    bge  r8, r2, enough_thr
    li   r1, s_few
enough_thr:
    call say
    mov  r2, r9
    li   r1, s_tlimit
    call show
    li   r1, 0                   ; exit ends the blocked threads too
    ret

double:
    add  r1, r1, r1
    ret
explicit:
    call gettid
    li   r2, tidbox
    st   r1, [r2]
    li   r1, 77
    call thread_exit
    li   r1, 1                  ; not reached
    ret
waiter:
    li   r1, fword
    li   r2, 0
    call futex_wait
    li   r2, 0
    bne  r1, r2, waiter_done
    li   r1, mtx2               ; counts the waiters that got 0
    call mutex_lock
    li   r2, woke
    ld   r1, [r2]
    add  r1, r1, 1
    st   r1, [r2]
    li   r1, mtx2
    call mutex_unlock
waiter_done:
    li   r1, 0
    ret
adder:
    push r8
    li   r8, 300
adder_loop:
    li   r1, mtx
    call mutex_lock
    li   r1, counter
    ld   r2, [r1]
    push r2
    call yield                  ; the other thread runs while we hold the lock
    pop  r2
    add  r2, r2, 1
    li   r1, counter
    st   r2, [r1]
    li   r1, mtx
    call mutex_unlock
    sub  r8, r8, 1
    li   r1, 0
    bne  r8, r1, adder_loop
    pop  r8
    li   r1, 0
    ret
spinner:
    call yield
    jmp  spinner
exiter:
    li   r1, 3
    call sleep
    li   r1, 9
    call exit
blocker:
    li   r1, never
    li   r2, 0
    call futex_wait
    ret

tidbox:  .word 0
fword:   .word 0
woke:    .word 0
counter: .word 0
mtx:     .word 0
mtx2:    .word 0
never:   .word 0
s_ret:   .asciz "entry-return "
s_join2: .asciz "join-again "
s_exit:  .asciz "thread-exit "
s_tid:   .asciz "gettid-diff "
s_tiddiff: .asciz "tids differ"
s_tidsame: .asciz "tids SAME"
s_wake2: .asciz "wake-2 "
s_wake10: .asciz "wake-10 "
s_woke:  .asciz "woken-with-0 "
s_count: .asciz "counter "
s_mtx:   .asciz "mutex-word "
s_exitall: .asciz "exit-status "
s_64:    .asciz "64 threads"
s_few:   .asciz "FEWER than 64 threads"
s_tlimit: .asciz "thread-limit "
