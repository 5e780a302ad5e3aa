; stress_fork.s -- six kernel threads of one process fork, wait, lock a mutex, yield and
; grow the heap, twenty times each, at the same time. On several CPUs this drives the
; kernel's concurrent paths at once: copy-on-write faults on the shared data page (and the
; stale read-only TLB entries they leave on other CPUs), TLB shootdowns from forks running
; in parallel, wait wake-ups, futexes. Prints "300 120": the children's exit statuses
; (20 x (0+1+...+5)) and the locked counter (6 x 20).
;
; Run: hv os --cpus 4 guests/os/tests/stress_fork.s   (tests/test_os.py, C core only: it
; is about 9 million machine cycles on 4 CPUs)
.include "user.s"
main:
    li   r8, 0
spawn:
    li   r1, worker
    mov  r2, r8
    call thread_create
    shl  r2, r8, 2
    li   r3, tids
    add  r2, r2, r3
    st   r1, [r2]
    add  r8, r8, 1
    li   r1, 6
    blt  r8, r1, spawn
    li   r8, 0
    li   r9, 0
join:
    shl  r2, r8, 2
    li   r3, tids
    add  r2, r2, r3
    ld   r1, [r2]
    call thread_join
    add  r9, r9, r1
    add  r8, r8, 1
    li   r1, 6
    blt  r8, r1, join
    mov  r1, r9
    call print_dec
    li   r1, sp_
    call puts
    li   r1, counter
    ld   r1, [r1]
    call print_dec
    li   r1, nl
    call puts
    li   r1, 0
    ret
worker:
    mov  r9, r1
    li   r8, 20
    li   r10, 0
wl:
    call fork
    li   r2, 0
    bne  r1, r2, wparent
    mov  r1, r9
    call exit
wparent:
    call wait
    add  r10, r10, r2
    li   r1, lock
    call mutex_lock
    li   r2, counter
    ld   r1, [r2]
    add  r1, r1, 1
    st   r1, [r2]
    li   r1, lock
    call mutex_unlock
    call yield
    li   r1, 1
    call sbrk
    sub  r8, r8, 1
    li   r1, 0
    bne  r8, r1, wl
    mov  r1, r10
    ret
    .align 4
tids: .space 24
lock: .word 0
counter: .word 0
sp_: .asciz " "
nl: .asciz "\n"
