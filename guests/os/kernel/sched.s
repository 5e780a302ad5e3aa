; kernel/sched.s -- the scheduler: run queue, timer ticks, sleeping, idling, the lock.
;
; Round robin over one run queue shared by all CPUs (a FIFO list of TCBs). The timer gives
; every CPU a tick every QUANTUM instructions; a tick puts the running thread at the back
; of the queue if someone else is waiting. A CPU with nothing to run switches to the
; kernel-only page directory and waits in `wfi` with interrupts on; making a thread ready
; sends an IPI to an idle CPU, so it does not wait for its next tick.
;
; One spin lock, `big_lock`, guards every kernel table. It is taken right after a trap has
; saved the thread and released right before `iret` (or before idling). Threads run in
; parallel in user mode; in the kernel they take turns. That is the "big kernel lock" of
; early SMP Unix: simple and obviously correct; its cost shows in system-call-heavy demos.

; klock: take the big lock. Clobbers r1.
klock:
    li   r1, 1
kl_spin:
    xchg r1, [r0 + big_lock]
    bne  r1, r0, kl_spin
    ret

; kunlock: release it (a plain store is enough: memory is sequentially consistent).
kunlock:
    st   r0, [r0 + big_lock]
    ret

; pause_unlocked: let the lock go for a moment, for a kernel path that waits for other
; CPUs (stop_others, shootdown). While it waits, this CPU runs no user code, so a TLB
; flush asked of it meanwhile is done here at once: two CPUs waiting for each other's
; flush would otherwise wait forever (their IPIs cannot arrive with interrupts off).
; Clobbers r1.
pause_unlocked:
    call kunlock
    li   r1, 32
pu_spin:
    sub  r1, r1, 1
    bne  r1, r0, pu_spin
    call klock
    tlbflush
    st   r0, [r11 + C_FLUSH]
    ret

; schedule: run the next ready thread on this CPU, or idle. The current thread, if it
; should run again, is already on the queue or blocked. Lock held; does not return.
schedule:
    call dequeue
    beq  r1, r0, go_idle
    mov  r10, r1
    jmp  return_to

go_idle:
    ld   r10, [r11 + C_IDLE]
    st   r10, [r11 + C_CURRENT]
    ld   r1, [r0 + kernel_dir]  ; let go of the last process's page tables
    ld   r2, [r11 + C_PTBR]
    beq  r1, r2, gi_space
    mtcr ptbr, r1
    st   r1, [r11 + C_PTBR]
gi_space:
    ld   r2, [r11 + C_ID]
    li   r3, 1
    shl  r3, r3, r2
    ld   r4, [r0 + idle_mask]
    or   r4, r4, r3
    st   r4, [r0 + idle_mask]
    call kunlock
idle_loop:
    ld   sp, [r11 + C_STACK]
    sti                         ; any interrupt now enters trap_from_kernel
    wfi
    jmp  idle_loop

; on_timer: a tick on a CPU running a thread.
on_timer:
    ld   r1, [r11 + C_ID]
    bne  r1, r0, ot_preempt
    call clock_tick             ; CPU 0 keeps the time
ot_preempt:
    ld   r1, [r0 + runq_head]
    beq  r1, r0, return_current ; nobody else wants to run: carry on
    mov  r1, r10
    call make_ready
    jmp  schedule

; clock_tick: one more tick; wake the sleepers whose time has come. Preserves r8-r15.
clock_tick:
    ld   r1, [r0 + ticks]
    add  r1, r1, 1
    st   r1, [r0 + ticks]
    ld   r2, [r0 + next_wake]
    sub  r2, r1, r2
    blt  r2, r0, ct_done        ; the earliest sleeper is not due yet
    ld   r2, [r0 + nsleep]
    beq  r2, r0, ct_done
    push r8
    push r9
    li   r8, threads
    li   r9, 0x7fffffff          ; the next earliest wake-up, relative to now
ct_scan:
    ld   r2, [r8 + T_STATE]
    li   r3, TS_BLOCKED
    bne  r2, r3, ct_next
    ld   r2, [r8 + T_WKIND]
    li   r3, W_SLEEP
    bne  r2, r3, ct_next
    ld   r2, [r8 + T_WAKE]
    ld   r1, [r0 + ticks]
    sub  r2, r2, r1             ; ticks still to go
    blt  r0, r2, ct_later
    st   r0, [r8 + 4]           ; sleep returns 0
    ld   r2, [r0 + nsleep]
    sub  r2, r2, 1
    st   r2, [r0 + nsleep]
    mov  r1, r8
    call make_ready
    jmp  ct_next
ct_later:
    bge  r2, r9, ct_next
    mov  r9, r2
ct_next:
    add  r8, r8, T_SIZE
    li   r2, threads_end
    bltu r8, r2, ct_scan
    ld   r1, [r0 + ticks]
    add  r1, r1, r9
    st   r1, [r0 + next_wake]
    pop  r9
    pop  r8
ct_done:
    ret

; make_ready: put thread r1 at the back of the run queue; wake an idle CPU if there is
; one. Clobbers r1-r4.
make_ready:
    li   r2, TS_READY
    st   r2, [r1 + T_STATE]
    st   r0, [r1 + T_NEXT]
    ld   r2, [r0 + runq_tail]
    beq  r2, r0, mr_empty
    st   r1, [r2 + T_NEXT]
    st   r1, [r0 + runq_tail]
    jmp  mr_kick
mr_empty:
    st   r1, [r0 + runq_head]
    st   r1, [r0 + runq_tail]
mr_kick:
    ld   r2, [r0 + idle_mask]
    beq  r2, r0, mr_done
    li   r3, 0                  ; the lowest idle CPU
mr_find:
    shr  r4, r2, r3
    and  r4, r4, 1
    bne  r4, r0, mr_send
    add  r3, r3, 1
    jmp  mr_find
mr_send:
    out  0x21, r3               ; an inter-processor interrupt wakes it from wfi
    li   r4, 1
    shl  r4, r4, r3
    xor  r2, r2, r4             ; one IPI is enough: it leaves the idle set
    st   r2, [r0 + idle_mask]
mr_done:
    ret

; dequeue: r1 = the thread at the front of the run queue (removed), or 0. Clobbers r2.
dequeue:
    ld   r1, [r0 + runq_head]
    beq  r1, r0, dq_done
    ld   r2, [r1 + T_NEXT]
    st   r2, [r0 + runq_head]
    bne  r2, r0, dq_done
    st   r0, [r0 + runq_tail]
dq_done:
    ret

; unqueue: take thread r1 out of the run queue, wherever it is. Clobbers r2-r3.
unqueue:
    li   r2, 0                  ; the previous element
    ld   r3, [r0 + runq_head]
uq_loop:
    beq  r3, r0, uq_done
    beq  r3, r1, uq_found
    mov  r2, r3
    ld   r3, [r3 + T_NEXT]
    jmp  uq_loop
uq_found:
    ld   r3, [r1 + T_NEXT]
    beq  r2, r0, uq_head
    st   r3, [r2 + T_NEXT]
    jmp  uq_tail
uq_head:
    st   r3, [r0 + runq_head]
uq_tail:
    ld   r3, [r0 + runq_tail]
    bne  r3, r1, uq_done
    st   r2, [r0 + runq_tail]
uq_done:
    ret

; block: the current thread waits (kind r1); pick another. With r2 = 1 the system call
; runs again when the thread wakes (wait, join); otherwise the waker sets its result.
block:
    st   r1, [r10 + T_WKIND]
    li   r1, TS_BLOCKED
    st   r1, [r10 + T_STATE]
    beq  r2, r0, schedule
    ld   r1, [r10 + T_PC]
    sub  r1, r1, 5              ; back onto the 5-byte `sys n`
    st   r1, [r10 + T_PC]
    jmp  schedule
