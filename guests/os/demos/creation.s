; demos/creation.s -- what it costs to create a process, a kernel thread, a user thread.
;
; Run: hv os guests/os/demos/creation.s            (add --hv: the same table)
;
; Each row creates something that does nothing and waits for it to finish, N times, and
; prints the average cost in guest instructions (clock(), the CPU's instruction count: on
; one CPU it counts everything that ran meanwhile, kernel and child included):
;   fork + exit + wait       a new process: PCB, page directory and tables; the image and
;                            heap are shared copy-on-write (only the caller's stack page
;                            is copied); then tearing it all down again
;   ... child writes 16 KiB  the same, but the child writes one word in each of four pages
;                            first: each write faults and the kernel copies that page
;   thread_create + join     a new kernel thread: a TCB and a stack slot in the same
;                            address space -- nothing is copied; two kernel entries
;   uthread_create + join    a user-level thread: a table entry and a stack set up by the
;                            library, in user mode; no system call at all (after the first
;                            stack is allocated, which is why the first is left out)
.include "user.s"
.include "table.s"

.equ N, 16

main:
    li   r1, s_title
    call puts

    ; --- processes ---
    call clock
    mov  r8, r1
    li   r9, N
fork_loop:
    call fork
    li   r2, 0
    bne  r1, r2, fork_parent
    li   r1, 0
    call exit                   ; the child ends at once
fork_parent:
    call wait
    sub  r9, r9, 1
    li   r1, 0
    bne  r9, r1, fork_loop
    call clock
    sub  r1, r1, r8
    divu r2, r1, N
    li   r1, s_fork
    call tbl_row

    ; --- processes that write their memory (copy on write pays then) ---
    call clock
    mov  r8, r1
    li   r9, N
fork2_loop:
    call fork
    li   r2, 0
    bne  r1, r2, fork2_parent
    li   r1, buffer             ; the child: one word in each page of the buffer
    li   r2, 4
fork2_write:
    st   r2, [r1]
    add  r1, r1, 4096
    sub  r2, r2, 1
    li   r3, 0
    bne  r2, r3, fork2_write
    li   r1, 0
    call exit
fork2_parent:
    call wait
    sub  r9, r9, 1
    li   r1, 0
    bne  r9, r1, fork2_loop
    call clock
    sub  r1, r1, r8
    divu r2, r1, N
    li   r1, s_fork2
    call tbl_row

    ; --- kernel threads ---
    call clock
    mov  r8, r1
    li   r9, N
thread_loop:
    li   r1, nothing
    li   r2, 0
    call thread_create
    call thread_join
    sub  r9, r9, 1
    li   r1, 0
    bne  r9, r1, thread_loop
    call clock
    sub  r1, r1, r8
    divu r2, r1, N
    li   r1, s_thread
    call tbl_row

    ; --- user-level threads (one warm-up: its stack comes from sbrk) ---
    li   r1, nothing
    li   r2, 0
    call uthread_create
    call uthread_join
    call clock
    mov  r8, r1
    li   r9, N
uthread_loop:
    li   r1, nothing
    li   r2, 0
    call uthread_create
    call uthread_join
    sub  r9, r9, 1
    li   r1, 0
    bne  r9, r1, uthread_loop
    call clock
    sub  r1, r1, r8
    divu r2, r1, N
    li   r1, s_uthread
    call tbl_row
    li   r1, 0
    ret

nothing:
    li   r1, 0
    ret

s_title:    .asciz "creation cost, guest instructions (average of 16)\n"
s_fork:     .asciz "  fork + exit + wait"
s_fork2:    .asciz "  ... the child writes 16 KiB"
s_thread:   .asciz "  thread_create + thread_join"
s_uthread:  .asciz "  uthread_create + uthread_join"

    .align 4096
buffer:     .space 16384
