; kernel/thread.s -- kernel-level threads: create, exit, join, and stopping them all.
;
; A thread is a TCB (its saved registers while it does not run) and a stack slot in its
; process's address space. The process's pages are shared by all its threads: creating a
; thread copies nothing, which is why it is so much cheaper than fork. A thread that ends
; keeps its TCB as a zombie, holding its value, until thread_join collects it; the last
; live thread of a process to end ends the process, with its value as the exit status.

; thread_create(entry, arg) -> tid; -4 when out of threads, stack slots or memory; -5 when
; entry is not an address of the process's
sys_thread_create:
    ld   r1, [r10 + 4]
    li   r2, 1
    call uaccess
    bne  r1, r0, sys_return
    call alloc_thread
    beq  r1, r0, sys_nomem
    mov  r13, r1
    li   r8, 0                  ; find a free stack slot
tc_slot:
    shr  r1, r8, 5
    shl  r1, r1, 2
    add  r1, r1, r12
    ld   r2, [r1 + P_SLOTS]
    and  r3, r8, 31
    shr  r2, r2, r3
    and  r2, r2, 1
    beq  r2, r0, tc_have_slot
    add  r8, r8, 1
    li   r1, NSLOTS
    bltu r8, r1, tc_slot
    jmp  sys_nomem
tc_have_slot:
    ; The top page of the slot: the new thread's first stack page, with the address it
    ; returns to (user.s's `sys 9`, thread_exit) on top.
    mul  r9, r8, STACK_SLOT
    add  r9, r9, STACK_BASE + STACK_SLOT - 4
    mov  r1, r9
    li   r2, 4
    call uaccess                ; maps the page if it is not there yet
    bne  r1, r0, sys_nomem
    li   r1, THREAD_RETURN
    st   r1, [r9]               ; the kernel may use user pages: this is the process's own
    ; Mark the slot and the thread in use.
    shr  r1, r8, 5
    shl  r1, r1, 2
    add  r1, r1, r12
    ld   r2, [r1 + P_SLOTS]
    and  r3, r8, 31
    li   r4, 1
    shl  r4, r4, r3
    or   r2, r2, r4
    st   r2, [r1 + P_SLOTS]
    ld   r1, [r12 + P_SLOTMAX]
    add  r2, r8, 1
    bgeu r1, r2, tc_slotmax
    st   r2, [r12 + P_SLOTMAX]
tc_slotmax:
    ld   r1, [r12 + P_NTHREADS]
    add  r1, r1, 1
    st   r1, [r12 + P_NTHREADS]
    ld   r1, [r12 + P_NLIVE]
    add  r1, r1, 1
    st   r1, [r12 + P_NLIVE]
    st   r12, [r13 + T_PROC]
    st   r8, [r13 + T_SLOT]
    ld   r1, [r10 + 4]          ; pc = entry, r1 = arg, sp below the return address
    st   r1, [r13 + T_PC]
    ld   r1, [r10 + 8]
    st   r1, [r13 + 4]
    st   r9, [r13 + 60]
    mov  r1, r13
    call make_ready
    ld   r1, [r13 + T_TID]
    jmp  sys_return

; thread_exit(value): does not return
sys_thread_exit:
    ld   r1, [r10 + 4]
    ld   r2, [r12 + P_NLIVE]
    li   r3, 1
    beq  r2, r3, proc_exit      ; the last live thread: the process ends with its value
    st   r1, [r10 + T_VALUE]
    sub  r2, r2, 1
    st   r2, [r12 + P_NLIVE]
    mov  r1, r10
    call free_slot
    li   r1, TS_ZOMBIE
    st   r1, [r10 + T_STATE]
    ld   r8, [r10 + T_TID]      ; wake the threads joining it: their join runs again
    li   r9, threads
te_wake:
    ld   r1, [r9 + T_STATE]
    li   r2, TS_BLOCKED
    bne  r1, r2, te_next
    ld   r1, [r9 + T_WKIND]
    li   r2, W_JOIN
    bne  r1, r2, te_next
    ld   r1, [r9 + T_WCHAN]
    bne  r1, r8, te_next
    mov  r1, r9
    call make_ready
te_next:
    add  r9, r9, T_SIZE
    li   r1, threads_end
    bltu r9, r1, te_wake
    jmp  schedule

; thread_join(tid) -> its value; -3 if no such unjoined thread here; -1 for itself
sys_thread_join:
    ld   r8, [r10 + 4]
    ld   r1, [r10 + T_TID]
    li   r2, E_INVAL
    beq  r1, r8, tj_return
    li   r9, threads
tj_find:
    ld   r1, [r9 + T_STATE]
    beq  r1, r0, tj_next
    ld   r1, [r9 + T_PROC]
    bne  r1, r12, tj_next
    ld   r1, [r9 + T_TID]
    beq  r1, r8, tj_found
tj_next:
    add  r9, r9, T_SIZE
    li   r1, threads_end
    bltu r9, r1, tj_find
    li   r2, E_NOCHILD
tj_return:
    mov  r1, r2
    jmp  sys_return
tj_found:
    ld   r1, [r9 + T_STATE]
    li   r2, TS_ZOMBIE
    beq  r1, r2, tj_collect
    st   r8, [r10 + T_WCHAN]    ; still running: wait for it, then look again
    li   r1, W_JOIN
    li   r2, 1
    jmp  block
tj_collect:
    ld   r8, [r9 + T_VALUE]
    mov  r1, r9
    call free_thread
    mov  r1, r8
    jmp  sys_return

; free_slot: thread r1 gives back its stack slot (its pages stay mapped, for the next
; thread that gets the slot). Clobbers r2-r5.
free_slot:
    ld   r2, [r1 + T_PROC]
    ld   r3, [r1 + T_SLOT]
    shr  r4, r3, 5
    shl  r4, r4, 2
    add  r2, r2, r4
    and  r3, r3, 31
    li   r4, 1
    shl  r4, r4, r3
    ld   r5, [r2 + P_SLOTS]
    or   r5, r5, r4
    xor  r5, r5, r4
    st   r5, [r2 + P_SLOTS]
    ret

; free_thread: TCB r1 becomes free. Its process's counts follow. Clobbers r1-r5.
free_thread:
    ld   r2, [r1 + T_PROC]
    ld   r3, [r2 + P_NTHREADS]
    sub  r3, r3, 1
    st   r3, [r2 + P_NTHREADS]
    ld   r3, [r1 + T_STATE]
    li   r4, TS_ZOMBIE
    beq  r3, r4, ft_free        ; a zombie has left the live count and its slot already
    ld   r3, [r2 + P_NLIVE]
    sub  r3, r3, 1
    st   r3, [r2 + P_NLIVE]
    push r1
    call free_slot
    pop  r1
    ld   r3, [r1 + T_STATE]
    li   r4, TS_BLOCKED
    bne  r3, r4, ft_free
    ld   r3, [r1 + T_WKIND]
    li   r4, W_SLEEP
    bne  r3, r4, ft_free
    ld   r3, [r0 + nsleep]
    sub  r3, r3, 1
    st   r3, [r0 + nsleep]
ft_free:
    st   r0, [r1 + T_STATE]
    st   r0, [r1 + T_KILLED]
    ret

; reap_self: the current thread's process is ending (another thread said so).
reap_self:
    mov  r1, r10
    call free_thread
    jmp  schedule

; stop_others: every thread of process r12 except the current one ends. Ready, blocked
; and zombie threads are freed at once; a thread running on another CPU is marked and
; sent an IPI, and frees itself on its next kernel entry (reap_self) -- the lock is let go
; meanwhile so that it can. r1 = 0 when done; r1 = 1 if the current thread was itself
; marked while the lock was free (another thread ended the process first).
stop_others:
    push r8
    push r9
so_again:
    li   r9, 0                  ; threads still running elsewhere
    li   r8, threads
so_loop:
    ld   r1, [r8 + T_STATE]
    beq  r1, r0, so_next
    beq  r8, r10, so_next
    ld   r2, [r8 + T_PROC]
    bne  r2, r12, so_next
    li   r2, TS_RUNNING
    beq  r1, r2, so_running
    li   r2, TS_READY
    bne  r1, r2, so_free
    mov  r1, r8
    call unqueue
so_free:
    mov  r1, r8
    call free_thread
    jmp  so_next
so_running:
    li   r1, 1
    st   r1, [r8 + T_KILLED]
    ld   r1, [r8 + T_CPU]
    out  0x21, r1
    add  r9, r9, 1
so_next:
    add  r8, r8, T_SIZE
    li   r1, threads_end
    bltu r8, r1, so_loop
    beq  r9, r0, so_done
    call pause_unlocked         ; let the other CPUs reach their kernel entry
    ld   r1, [r10 + T_KILLED]
    beq  r1, r0, so_again
    li   r1, 1
    jmp  so_out
so_done:
    li   r1, 0
so_out:
    pop  r9
    pop  r8
    ret
