; sleep blocks only the calling kernel thread; a blocking call in a user-level thread
; blocks all its siblings (brief §9).
.include "user.s"
.include "ct.s"

main:
    ; kernel threads: main keeps running while its sibling sleeps
    li   r1, sleeper
    li   r2, 0
    call thread_create
    mov  r8, r1
    li   r9, 0                  ; main's loops while the sibling sleeps
spin:
    li   r1, done
    ld   r1, [r1]
    li   r2, 0
    bne  r1, r2, woke
    add  r9, r9, 1
    call yield
    jmp  spin
woke:
    mov  r1, r8
    call thread_join
    li   r1, s_kt
    li   r2, 0
    blt  r2, r9, kt_ok
    li   r1, s_kt_bad
kt_ok:
    call say
    ; user-level threads: B never runs while A is inside sleep
    li   r1, ua
    li   r2, 0
    call uthread_create
    mov  r8, r1
    li   r1, ub
    li   r2, 0
    call uthread_create
    mov  r9, r1
    mov  r1, r8
    call uthread_join
    mov  r1, r9
    call uthread_join
    li   r10, 0                 ; B's stamps inside A's sleep
    li   r11, 0
check:
    li   r1, stamps
    shl  r2, r11, 2
    add  r1, r1, r2
    ld   r1, [r1]
    li   r2, t0
    ld   r2, [r2]
    li   r3, t1
    ld   r3, [r3]
    bgeu r2, r1, outside        ; stamp <= t0
    bgeu r1, r3, outside        ; stamp >= t1
    add  r10, r10, 1
outside:
    add  r11, r11, 1
    li   r1, 4
    bne  r11, r1, check
    mov  r2, r10
    li   r1, s_ut
    call show
    li   r1, 0
    ret

sleeper:
    li   r1, 3
    call sleep
    li   r1, done
    li   r2, 1
    st   r2, [r1]
    li   r1, 0
    ret
ua:
    call uthread_yield          ; let B take a stamp first
    call clock
    li   r2, t0
    st   r1, [r2]
    li   r1, 3
    call sleep
    call clock
    li   r2, t1
    st   r1, [r2]
    li   r1, 0
    call uthread_exit
ub:
    push r8
    li   r8, 0
ub_loop:
    call clock
    li   r2, stamps
    shl  r3, r8, 2
    add  r2, r2, r3
    st   r1, [r2]
    call uthread_yield
    add  r8, r8, 1
    li   r1, 4
    bne  r8, r1, ub_loop
    pop  r8
    li   r1, 0
    call uthread_exit

done:   .word 0
t0:     .word 0
t1:     .word 0
stamps: .space 16
s_kt:   .asciz "main ran while its sibling slept"
s_kt_bad: .asciz "main did NOT run while its sibling slept"
s_ut:   .asciz "stamps-inside-sleep "
