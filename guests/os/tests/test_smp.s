; test_smp.s -- the OS on four CPUs: parallel kernel threads, the lock, stopping threads
; that run on other CPUs, TLB shootdown.
;
; Run: hv os --cpus 4 guests/os/tests/test_smp.s
; os-cpus: 4
.include "user.s"
.include "utap.s"

.equ WORK, 6000
.equ N, 400

main:
    PLAN 7

    ; --- four kernel threads really run at the same time ---
    call clock
    mov  r8, r1
    li   r1, 0
    call work
    li   r1, 0
    call work
    li   r1, 0
    call work
    li   r1, 0
    call work
    call clock
    sub  r9, r1, r8             ; r9 = one thread doing 4 parts
    call clock
    mov  r8, r1
    li   r1, work
    call four
    call clock
    sub  r10, r1, r8            ; r10 = 4 threads doing a part each
    mul  r10, r10, 5            ; a speed-up above 2.5: 5 x t4 < 2 x t1
    shl  r9, r9, 1
    li   r1, 0
    bgeu r10, r9, slow
    li   r1, 1
slow:
    OK   r1, "4 kernel threads on 4 CPUs: more than 2.5x faster than 1"

    ; --- the mutex, with threads truly in parallel ---
    li   r1, t_locked
    call four
    li   r1, counter
    ld   r1, [r1]
    CHECK_EQ r1, 4 * N, "4 threads x 400 locked increments on 4 CPUs = 1600"
    li   r1, counter
    li   r2, 0
    st   r2, [r1]
    li   r1, t_unlocked
    call four
    li   r1, counter
    ld   r1, [r1]
    li   r2, 4 * N
    li   r3, 1
    bltu r1, r2, lost
    li   r3, 0
lost:
    OK   r3, "without it, parallel updates are lost"

    ; --- exit while the process's other threads run on other CPUs ---
    call fork
    li   r2, 0
    bne  r1, r2, p_exit
    li   r1, t_spin
    li   r2, 0
    call thread_create
    li   r1, t_spin
    li   r2, 0
    call thread_create
    li   r1, t_spin
    li   r2, 0
    call thread_create
    li   r1, 2
    call sleep
    li   r1, 5
    call exit
p_exit:
    call wait
    CHECK_EQ r2, 5, "exit ends threads running on other CPUs"

    ; --- a fault in one thread ends the threads on the other CPUs ---
    call fork
    li   r2, 0
    bne  r1, r2, p_fault
    li   r1, t_spin
    li   r2, 0
    call thread_create
    li   r1, t_spin
    li   r2, 0
    call thread_create
    li   r1, 2
    call sleep
    li   r1, 0
    div  r1, r1, r1
p_fault:
    call wait
    CHECK_EQ r2, 136, "...and so does a fault"

    ; --- TLB shootdown: a page taken away under a thread on another CPU ---
    call fork
    li   r2, 0
    bne  r1, r2, p_shoot
    li   r1, 8192
    call sbrk
    mov  r8, r1
    add  r8, r8, 4096
    li   r2, 1
    st   r2, [r8]
    li   r1, t_reader           ; reads the page in a loop, on another CPU
    mov  r2, r8
    call thread_create
    li   r1, 2
    call sleep                  ; let it run (and cache the translation)
    li   r1, -8192
    call sbrk                   ; the page goes; the reader must notice
    li   r1, 4
    call sleep
    li   r1, 0                  ; the reader never faulted: wrong
    call exit
p_shoot:
    call wait
    CHECK_EQ r2, 133, "sbrk(-n) under a reader on another CPU: it faults (133)"

    ; --- many processes on many CPUs ---
    li   r8, 0
many:
    call fork
    li   r2, 0
    bne  r1, r2, many_parent
    li   r1, 0
    call work
    li   r1, 7
    call exit
many_parent:
    add  r8, r8, 1
    li   r1, 6
    blt  r8, r1, many
    li   r8, 0
    li   r9, 0
many_wait:
    li   r1, -1
    call wait
    add  r9, r9, r2
    add  r8, r8, 1
    li   r1, 6
    blt  r8, r1, many_wait
    CHECK_EQ r9, 42, "six processes at once, all waited for"
    DONE

; four(body): body(i) in four kernel threads, joined
four:
    push r8
    push r9
    push r10
    mov  r10, r1
    li   r8, 0
four_spawn:
    mov  r1, r10
    mov  r2, r8
    call thread_create
    shl  r2, r8, 2
    li   r3, tids
    add  r2, r2, r3
    st   r1, [r2]
    add  r8, r8, 1
    li   r1, 4
    blt  r8, r1, four_spawn
    li   r8, 0
four_join:
    shl  r2, r8, 2
    li   r3, tids
    add  r2, r2, r3
    ld   r1, [r2]
    call thread_join
    add  r8, r8, 1
    li   r1, 4
    blt  r8, r1, four_join
    pop  r10
    pop  r9
    pop  r8
    ret

work:
    li   r2, WORK
    li   r1, 0
work_loop:
    add  r1, r1, r2
    xor  r1, r1, 0x55
    sub  r2, r2, 1
    li   r3, 0
    bne  r2, r3, work_loop
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

bump:
    li   r2, counter
    ld   r1, [r2]
    add  r1, r1, 1
    nop
    nop
    st   r1, [r2]
    ret

t_spin:
    jmp  t_spin

t_reader:
    ld   r2, [r1]
    jmp  t_reader

    .align 4
tids:       .space 16
lock:       .word 0
counter:    .word 0
