; demos/multiprocessor.s -- kernel-level threads run in parallel; user-level threads do not.
;
; Run: hv os --cpus 4 guests/os/demos/multiprocessor.s
;      hv os guests/os/demos/multiprocessor.s          (one CPU: nobody gains)
;
; One CPU-bound job (a checksum over 4 x 20000 numbers) is done three ways, and each row
; gives the elapsed time in guest instructions (clock(): the CPUs take turns, so one
; CPU's count is the machine's time) and the speed-up over doing it in one thread:
;   one thread           the job in order
;   4 kernel threads     a quarter each; the kernel's scheduler puts them on different
;                        CPUs at the same time: about 4x faster on 4 CPUs
;   4 user threads       a quarter each, but all inside one kernel thread: the kernel
;                        can give it one CPU only, so nothing is gained
.include "user.s"
.include "table.s"

.equ PART, 20000

main:
    li   r1, s_title
    call puts

    ; --- one thread ---
    call clock
    mov  r8, r1
    li   r9, 0
    li   r10, 0
seq_loop:
    mov  r1, r9
    call part
    add  r10, r10, r1
    add  r9, r9, 1
    li   r1, 4
    bne  r9, r1, seq_loop
    call clock
    sub  r8, r1, r8
    li   r1, base
    st   r8, [r1]
    li   r1, sum_seq
    st   r10, [r1]
    li   r1, s_seq
    mov  r2, r8
    call row

    ; --- four kernel threads ---
    call clock
    mov  r8, r1
    li   r9, 0
klt_spawn:
    li   r1, part
    mov  r2, r9
    call thread_create
    shl  r2, r9, 2
    li   r3, tids
    add  r2, r2, r3
    st   r1, [r2]
    add  r9, r9, 1
    li   r1, 4
    bne  r9, r1, klt_spawn
    li   r9, 0
    li   r10, 0
klt_join:
    shl  r2, r9, 2
    li   r3, tids
    add  r2, r2, r3
    ld   r1, [r2]
    call thread_join
    add  r10, r10, r1
    add  r9, r9, 1
    li   r1, 4
    bne  r9, r1, klt_join
    call clock
    sub  r2, r1, r8
    li   r1, s_klt
    call row
    call check

    ; --- four user-level threads ---
    call clock
    mov  r8, r1
    li   r9, 0
ult_spawn:
    li   r1, part
    mov  r2, r9
    call uthread_create
    shl  r2, r9, 2
    li   r3, tids
    add  r2, r2, r3
    st   r1, [r2]
    add  r9, r9, 1
    li   r1, 4
    bne  r9, r1, ult_spawn
    li   r9, 0
    li   r10, 0
ult_join:
    shl  r2, r9, 2
    li   r3, tids
    add  r2, r2, r3
    ld   r1, [r2]
    call uthread_join
    add  r10, r10, r1
    add  r9, r9, 1
    li   r1, 4
    bne  r9, r1, ult_join
    call clock
    sub  r2, r1, r8
    li   r1, s_ult
    call row
    call check
    li   r1, 0
    ret

; part(k): the checksum of numbers k*PART .. (k+1)*PART-1 (some mixing per number)
part:
    mul  r2, r1, PART           ; i
    add  r3, r2, PART           ; end
    li   r1, 0
part_loop:
    mul  r4, r2, 2654435761
    xor  r4, r4, r2
    add  r1, r1, r4
    add  r2, r2, 1
    bne  r2, r3, part_loop
    ret

; row(label, time): label, time, speed-up over the first row
row:
    push r2
    li   r2, 30
    call tbl_text
    ld   r1, [sp]
    li   r2, 12
    call tbl_num
    li   r1, s_gap
    call puts
    pop  r2
    li   r1, base
    ld   r1, [r1]
    mul  r1, r1, 100
    divu r1, r1, r2
    call tbl_fixed2
    call tbl_nl
    ret

; check: r10 (the sum just computed) must equal the one-thread sum
check:
    li   r1, sum_seq
    ld   r1, [r1]
    beq  r1, r10, check_ok
    li   r1, s_wrong
    call puts
check_ok:
    ret

    .align 4
base:       .word 1
sum_seq:    .word 0
tids:       .space 16
s_title:    .asciz "one job in 4 parts          instructions   speed-up\n"
s_seq:      .asciz "  1 thread"
s_klt:      .asciz "  4 kernel-level threads"
s_ult:      .asciz "  4 user-level threads"
s_gap:      .asciz "      "
s_wrong:    .asciz "  (wrong result!)\n"
