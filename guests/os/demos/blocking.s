; demos/blocking.s -- one blocking call in a user-level thread stalls its siblings; in a
; kernel-level thread it does not.
;
; Run: hv os guests/os/demos/blocking.s
;
; Three threads: the first sleeps for 10 timer ticks (a blocking system call), the other
; two count as fast as they can. The row shows how far each of the two counted while the
; first was asleep:
;   user-level threads   the kernel sees one thread; when it sleeps, the whole process
;                        sleeps, and the library never gets to run the other two: 0, 0
;   kernel-level threads the kernel blocks only the sleeper and runs the other two on the
;                        CPU meanwhile (preempting them at every tick): they count on
.include "user.s"
.include "table.s"

.equ NAP, 10

main:
    li   r1, s_title
    call puts

    ; --- user-level threads ---
    li   r1, u_sleeper
    li   r2, 0
    call uthread_create
    mov  r8, r1
    li   r1, u_counter
    li   r2, count_b
    call uthread_create
    mov  r9, r1
    li   r1, u_counter
    li   r2, count_c
    call uthread_create
    mov  r10, r1
    mov  r1, r8
    call uthread_join
    mov  r1, r9
    call uthread_join
    mov  r1, r10
    call uthread_join
    li   r1, s_ult
    call print_row

    ; --- kernel-level threads ---
    li   r1, stop
    li   r2, 0
    st   r2, [r1]
    li   r1, k_sleeper
    li   r2, 0
    call thread_create
    mov  r8, r1
    li   r1, k_counter
    li   r2, count_b
    call thread_create
    mov  r9, r1
    li   r1, k_counter
    li   r2, count_c
    call thread_create
    mov  r10, r1
    mov  r1, r8
    call thread_join
    mov  r1, r9
    call thread_join
    mov  r1, r10
    call thread_join
    li   r1, s_klt
    call print_row
    li   r1, 0
    ret

; print_row(label): the label, then how far b and c got during the nap
print_row:
    li   r2, 36
    call tbl_text
    li   r1, after_b
    ld   r1, [r1]
    li   r2, before_b
    ld   r2, [r2]
    sub  r1, r1, r2
    li   r2, 12
    call tbl_num
    li   r1, after_c
    ld   r1, [r1]
    li   r2, before_c
    ld   r2, [r2]
    sub  r1, r1, r2
    li   r2, 12
    call tbl_num
    call tbl_nl
    ret

; The sleeper: let the others start, note their counters, sleep, note them again.
u_sleeper:
    call uthread_yield
    call uthread_yield
    call snapshot_before
    li   r1, NAP
    call sleep
    call snapshot_after
    li   r1, stop
    li   r2, 1
    st   r2, [r1]
    li   r1, 0
    ret

k_sleeper:
    call yield
    call yield
    call snapshot_before
    li   r1, NAP
    call sleep
    call snapshot_after
    li   r1, stop
    li   r2, 1
    st   r2, [r1]
    li   r1, 0
    ret

; A user-level counter yields to its siblings after every step (cooperative).
u_counter:
    mov  r8, r1
    li   r2, 0
    st   r2, [r8]
uc_loop:
    ld   r2, [r8]
    add  r2, r2, 1
    st   r2, [r8]
    call uthread_yield
    li   r1, stop
    ld   r1, [r1]
    li   r2, 0
    beq  r1, r2, uc_loop
    li   r1, 0
    ret

; A kernel-level counter just counts: the timer preempts it.
k_counter:
    li   r2, 0
    st   r2, [r1]
    li   r3, stop
    li   r4, 0
kc_loop:
    ld   r2, [r1]
    add  r2, r2, 1
    st   r2, [r1]
    ld   r5, [r3]
    beq  r5, r4, kc_loop
    li   r1, 0
    ret

snapshot_before:
    li   r1, count_b
    ld   r1, [r1]
    li   r2, before_b
    st   r1, [r2]
    li   r1, count_c
    ld   r1, [r1]
    li   r2, before_c
    st   r1, [r2]
    ret

snapshot_after:
    li   r1, count_b
    ld   r1, [r1]
    li   r2, after_b
    st   r1, [r2]
    li   r1, count_c
    ld   r1, [r1]
    li   r2, after_c
    st   r1, [r2]
    ret

    .align 4
stop:       .word 0
count_b:    .word 0
count_c:    .word 0
before_b:   .word 0
before_c:   .word 0
after_b:    .word 0
after_c:    .word 0
s_title:    .asciz "blocking: thread 1 of 3 sleeps 10 ticks; how far 2 and 3 count meanwhile\n"
s_ult:      .asciz "  user-level threads"
s_klt:      .asciz "  kernel-level threads"
