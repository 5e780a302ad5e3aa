; demos/switching.s -- what a switch costs: user-level threads, kernel threads, processes.
;
; Run: hv os guests/os/demos/switching.s
;      hv os --hv --stats guests/os/demos/switching.s   (the same table; then what the
;                                                       hypervisor did, on stderr)
;
; Two of a kind take turns K times each, and the row is the average cost of one switch
; in guest instructions:
;   uthread_yield       user-level threads: the library saves seven registers and swaps
;                       stacks, all in user mode
;   yield, threads      two kernel threads of one process: a system call, the kernel saves
;                       and restores all sixteen registers and picks the other thread; the
;                       address space stays, and with it the TLB
;   yield, processes    two processes: the same, plus loading the other page directory
;                       into ptbr, which empties the TLB: the next accesses walk the page
;                       tables again (free in instructions on this machine, but under the
;                       hypervisor each refill is a shadow-page-table fill: see --stats)
.include "user.s"
.include "table.s"

.equ K, 200

main:
    li   r1, s_title
    call puts

    ; --- user-level threads: main and one other take turns ---
    li   r1, u_body
    li   r2, 0
    call uthread_create
    mov  r9, r1
    li   r1, 1
    call u_body                 ; main times its K yields
    mov  r1, r9
    call uthread_join
    li   r1, s_ult
    li   r2, result
    ld   r2, [r2]
    call tbl_row

    ; --- kernel threads of one process ---
    li   r1, k_body
    li   r2, 1                  ; this one measures
    call thread_create
    mov  r9, r1
    li   r1, k_body
    li   r2, 0
    call thread_create
    mov  r8, r1
    mov  r1, r9
    call thread_join
    mov  r1, r8
    call thread_join
    li   r1, s_klt
    li   r2, result
    ld   r2, [r2]
    call tbl_row

    ; --- two processes ---
    call fork
    li   r2, 0
    bne  r1, r2, p_parent
    li   r1, 0
    call k_body                 ; the child yields K times, then exits
    li   r1, 0
    call exit
p_parent:
    mov  r8, r1
    li   r1, 1
    call k_body
    mov  r1, r8
    call wait
    li   r1, s_proc
    li   r2, result
    ld   r2, [r2]
    call tbl_row
    li   r1, 0
    ret

; A body yields K times; the one with r1 = 1 times its yields: 2K switches in all.
u_body:
    push r8
    push r9
    push r10
    mov  r8, r1
    call clock
    mov  r9, r1
    li   r10, K
u_loop:
    call uthread_yield
    sub  r10, r10, 1
    li   r1, 0
    bne  r10, r1, u_loop
    li   r1, 0
    beq  r8, r1, u_done
    call clock
    sub  r1, r1, r9
    divu r1, r1, 2 * K
    li   r2, result
    st   r1, [r2]
u_done:
    pop  r10
    pop  r9
    pop  r8
    li   r1, 0
    ret

k_body:
    push r8
    push r9
    push r10
    mov  r8, r1
    call yield                  ; start together
    call clock
    mov  r9, r1
    li   r10, K
k_loop:
    call yield
    sub  r10, r10, 1
    li   r1, 0
    bne  r10, r1, k_loop
    li   r1, 0
    beq  r8, r1, k_done
    call clock
    sub  r1, r1, r9
    divu r1, r1, 2 * K
    li   r2, result
    st   r1, [r2]
k_done:
    pop  r10
    pop  r9
    pop  r8
    li   r1, 0
    ret

    .align 4
result:     .word 0
s_title:    .asciz "switch cost, guest instructions per switch (200 each way)\n"
s_ult:      .asciz "  uthread_yield (user-level)"
s_klt:      .asciz "  yield, two threads of a process"
s_proc:     .asciz "  yield, two processes"
