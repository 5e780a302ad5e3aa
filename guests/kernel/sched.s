; kernel/sched.s -- the scheduler: who runs next, and how the kernel gets back to user mode.
;
; Every trap handler ends in one of two places:
;   return_to_task   resume the task in r10 where it left off (a system call that returns,
;                    a breakpoint, a repaired page fault)
;   schedule         pick the next ready task, round robin, and resume that one instead
;                    (timer interrupt, yield, sleep, exit, a killed task)
; If no task is ready, the kernel waits in the idle loop for the timer to wake a sleeper;
; if no task is left at all, it prints the summary and powers the machine off.

; --- The timer interrupt: preemption --------------------------------------------------
; The timer fires every TIMER_PERIOD instructions, whatever the task is doing: that is
; what stops a task that never calls the kernel from keeping the CPU forever.
on_timer:
    li   r1, ticks
    ld   r2, [r1]
    add  r2, r2, 1
    st   r2, [r1]               ; r2 = the new tick count
    li   r3, tasks              ; wake every sleeper whose time has come
ot_wake:
    ld   r4, [r3 + T_STATE]
    li   r5, TS_SLEEPING
    bne  r4, r5, ot_next
    ld   r4, [r3 + T_WAKE]
    blt  r2, r4, ot_next        ; not yet
    li   r4, TS_READY
    st   r4, [r3 + T_STATE]
ot_next:
    add  r3, r3, T_SIZE
    li   r4, tasks_end
    bltu r3, r4, ot_wake
    ; The interrupted task is still READY: it simply goes to the back of the queue.
    ; fall through

; --- Round robin ----------------------------------------------------------------------
; Look at the tasks after the one that ran last, wrapping around, and run the first one
; that is ready. The last one itself is looked at last, so it runs again only when
; nobody else can.
schedule:
    li   r1, rr_last
    ld   r2, [r1]               ; r2 = candidate
    li   r3, NTASKS             ; candidates left to look at
sch_next:
    add  r2, r2, T_SIZE
    li   r4, tasks_end
    bltu r2, r4, sch_check
    li   r2, tasks              ; wrap around
sch_check:
    ld   r4, [r2 + T_STATE]
    li   r5, TS_READY
    beq  r4, r5, sch_found
    sub  r3, r3, 1
    bne  r3, r0, sch_next
    ; Nobody is ready: either everyone is asleep, or everyone is gone.
    li   r1, live
    ld   r1, [r1]
    beq  r1, r0, all_done
    jmp  idle
sch_found:
    st   r2, [r1]               ; rr_last = the chosen one
    mov  r10, r2
    ; fall through

; --- Back to user mode ----------------------------------------------------------------
; return_to_task: r10 = the TCB. Switches to the task's address space if it is not the
; one loaded, restores all of its registers and its pc, and drops to user mode.
return_to_task:
    li   r1, current
    st   r10, [r1]
    ld   r1, [r10 + T_PT]
    or   r1, r1, PTE_PRESENT | PTE_WRITABLE | PTE_USER
    li   r3, page_dir
    ld   r3, [r3]
    ld   r2, [r3]               ; the directory's entry: whose page table is in?
    beq  r1, r2, rtt_same_space
    st   r1, [r3]               ; the task's page table in the directory, and a TLB flush:
    tlbflush                    ; its entries belonged to the old address space
    li   r1, stat_switches
    ld   r2, [r1]
    add  r2, r2, 1
    st   r2, [r1]
rtt_same_space:
    ld   r1, [r10 + T_PC]
    mtcr epc, r1                ; iret jumps to epc
    ; iret sets KM <- PKM and IE <- PIE. PKM = 0 and PIE = 1 mean: user mode, with
    ; interrupts on, so the timer can take the CPU back. KM = 1 and IE = 0 keep us in
    ; the kernel, undisturbed, until the iret itself. PG stays on.
    li   r1, ST_KM | ST_PG | ST_PIE
    mtcr status, r1
    mov  r1, r10                ; r1 is the base register, so it is restored last
    ld   r0, [r1 + T_REGS + 0 * 4]
    ld   r2, [r1 + T_REGS + 2 * 4]
    ld   r3, [r1 + T_REGS + 3 * 4]
    ld   r4, [r1 + T_REGS + 4 * 4]
    ld   r5, [r1 + T_REGS + 5 * 4]
    ld   r6, [r1 + T_REGS + 6 * 4]
    ld   r7, [r1 + T_REGS + 7 * 4]
    ld   r8, [r1 + T_REGS + 8 * 4]
    ld   r9, [r1 + T_REGS + 9 * 4]
    ld   r10, [r1 + T_REGS + 10 * 4]
    ld   r11, [r1 + T_REGS + 11 * 4]
    ld   r12, [r1 + T_REGS + 12 * 4]
    ld   r13, [r1 + T_REGS + 13 * 4]
    ld   r14, [r1 + T_REGS + 14 * 4]
    ld   r15, [r1 + T_REGS + 15 * 4]    ; the task's sp: the kernel stack is left behind
    ld   r1, [r1 + T_REGS + 1 * 4]
    iret

; --- Idle -----------------------------------------------------------------------------
; Every live task is asleep. `wfi` stops the CPU until an interrupt is pending (on this
; machine, the clock runs on to the next timer interrupt at once), and with IE = 1 the
; interrupt is taken right after it. The timer handler wakes the sleepers and calls the
; scheduler, which never comes back here unless there is still nothing to run. Its
; registers are saved into idle_tcb, which is never resumed.
idle:
    li   r1, idle_tcb
    li   r2, current
    st   r1, [r2]
    li   r1, stat_idle
    ld   r2, [r1]
    add  r2, r2, 1
    st   r2, [r1]
    sti                         ; the only place where the kernel lets interrupts in
idle_wait:
    wfi
    jmp  idle_wait

; --- A task is finished (exit or killed): r10 = its TCB --------------------------------
task_done:
    li   r1, TS_DONE
    st   r1, [r10 + T_STATE]
    li   r1, live
    ld   r2, [r1]
    sub  r2, r2, 1
    st   r2, [r1]
    jmp  schedule

; --- The end: every task has finished ------------------------------------------------
all_done:
    out  PORT_TIMER, r0               ; timer off
    call kmsg
    li   r1, s_all_done         ; "all tasks have finished after "
    call puts
    li   r1, ticks
    ld   r1, [r1]
    call print_uint
    li   r1, s_ticks            ; " timer ticks"
    call puts
    li   r10, tasks
ad_task:
    call kmsg
    li   r1, s_indent
    call puts
    call print_task
    ld   r1, [r10 + T_KILLED]
    bne  r1, r0, ad_killed
    li   r1, s_sum_exit         ; ": exit code "
    call puts
    ld   r1, [r10 + T_EXIT]
    call print_int
    jmp  ad_line_done
ad_killed:
    li   r1, s_sum_killed       ; ": killed, "
    call puts
    ld   r1, [r10 + T_EXIT]     ; the cause
    call puts_cause
ad_line_done:
    call newline
    add  r10, r10, T_SIZE
    li   r1, tasks_end
    bltu r10, r1, ad_task

    call kmsg                   ; "[kernel] 40 system calls, 73 timer interrupts, ..."
    li   r1, stat_syscalls
    ld   r1, [r1]
    call print_uint
    li   r1, s_stat_syscalls
    call puts
    li   r1, ticks
    ld   r1, [r1]
    call print_uint
    li   r1, s_stat_timer
    call puts
    li   r1, stat_switches
    ld   r1, [r1]
    call print_uint
    li   r1, s_stat_switches
    call puts
    li   r1, stat_demand
    ld   r1, [r1]
    call print_uint
    li   r1, s_stat_demand
    call puts
    li   r1, stat_idle
    ld   r1, [r1]
    call print_uint
    li   r1, s_stat_idle
    call puts
    call kmsg
    li   r1, s_power_off
    call puts
    out  PORT_POWER, r0               ; power off, exit status 0

; --- Kernel messages ------------------------------------------------------------------
; kmsg: print "[kernel] ". print_task: print "task N" for the TCB in r10.
; Both preserve every register.
kmsg:
    push r1
    li   r1, s_kernel
    call puts
    pop  r1
    ret

print_task:
    push r1
    li   r1, s_task
    call puts
    ld   r1, [r10 + T_PID]
    call print_uint
    pop  r1
    ret
