; kernel/trap.s -- the one trap vector: every system call, fault and interrupt enters here.
;
; Entry: save all sixteen registers and the pc of whatever ran into its TCB (found through
; this CPU's block), switch to this CPU's kernel stack, take the big lock, then dispatch on
; `cause`. Exit: `return_to` restores a thread's registers and `iret`s into user mode.
;
; Only one register can be saved before the kernel has a free one: r1 goes to `scratch`,
; the only control register kept for that (each CPU has its own).

trap_entry:
    mtcr scratch, r1
    CPUID r1
    shl  r1, r1, C_SHIFT
    ld   r1, [r1 + cpus + C_CURRENT]    ; r1 = the TCB of what was running
    st   r0, [r1 + 0]
    st   r2, [r1 + 8]
    st   r3, [r1 + 12]
    st   r4, [r1 + 16]
    st   r5, [r1 + 20]
    st   r6, [r1 + 24]
    st   r7, [r1 + 28]
    st   r8, [r1 + 32]
    st   r9, [r1 + 36]
    st   r10, [r1 + 40]
    st   r11, [r1 + 44]
    st   r12, [r1 + 48]
    st   r13, [r1 + 52]
    st   r14, [r1 + 56]
    st   r15, [r1 + 60]
    mfcr r2, scratch
    st   r2, [r1 + 4]
    mfcr r2, epc
    st   r2, [r1 + T_PC]
    li   r0, 0
    mov  r10, r1
    ld   r11, [r10 + T_CPUBLK]  ; this CPU's block (set when the thread was dispatched here)
    ld   sp, [r11 + C_STACK]
    mfcr r1, status
    and  r1, r1, ST_PKM
    bne  r1, r0, trap_from_kernel

    call klock
    ld   r1, [r10 + T_KILLED]   ; another thread is ending this process: stop here
    bne  r1, r0, reap_self
    ld   r12, [r10 + T_PROC]
    mfcr r1, cause
    li   r2, C_SYSCALL
    beq  r1, r2, do_syscall     ; kernel/sys.s
    li   r2, C_TIMER
    beq  r1, r2, on_timer       ; kernel/sched.s
    li   r2, C_IPI
    beq  r1, r2, on_ipi
    li   r2, C_DEVICE
    beq  r1, r2, return_current ; no device interrupt is enabled; nothing to do
    jmp  user_fault

; An IPI to a CPU running a thread: another CPU changed something this one may cache (a
; mapping: flush the TLB) or wants it to notice a kill (checked above).
on_ipi:
    tlbflush
    st   r0, [r11 + C_FLUSH]    ; done, if a shootdown asked for it
    jmp  return_current

; The kernel runs with interrupts off, except in the idle loop: a trap from kernel mode is
; an interrupt that woke an idle CPU, or a bug in the kernel.
trap_from_kernel:
    mfcr r1, cause
    li   r2, C_TIMER
    bltu r1, r2, kernel_panic
    call klock
    ld   r2, [r11 + C_ID]       ; this CPU is no longer idle
    li   r3, 1
    shl  r3, r3, r2
    ld   r4, [r0 + idle_mask]
    or   r4, r4, r3
    xor  r4, r4, r3
    st   r4, [r0 + idle_mask]
    st   r0, [r11 + C_FLUSH]    ; an idle CPU holds no user translations
    mfcr r1, cause
    li   r3, C_TIMER
    bne  r1, r3, schedule
    bne  r2, r0, schedule       ; CPU 0 keeps the time
    call clock_tick
    jmp  schedule

; A fault in user mode. Page faults in a thread's stack slot map the page (the stack grows
; on demand); anything else ends the process with 128 + cause.
user_fault:
    li   r2, C_PF_READ
    beq  r1, r2, uf_page
    li   r2, C_PF_WRITE
    bne  r1, r2, uf_kill
uf_page:
    mfcr r1, cause
    li   r2, C_PF_WRITE
    bne  r1, r2, uf_stack
    mfcr r1, badaddr
    call cow_fault              ; kernel/mem.s: 0 if it was a copy-on-write page
    beq  r1, r0, return_current
uf_stack:
    mfcr r1, badaddr
    call stack_demand           ; kernel/mem.s: 0 if it mapped the page
    beq  r1, r0, return_current
uf_kill:
    ld   r1, [r0 + verbose]
    beq  r1, r0, uf_quiet
    li   r1, s_os
    call puts
    li   r1, s_pid
    call puts
    ld   r1, [r12 + P_PID]
    call print_uint
    li   r1, s_fault
    call puts
    mfcr r1, cause
    call print_uint
    li   r1, s_at_pc
    call puts
    ld   r1, [r10 + T_PC]
    call print_hex
    li   r1, s_badaddr
    call puts
    mfcr r1, badaddr
    call print_hex
    call newline
uf_quiet:
    mfcr r1, cause
    add  r1, r1, 128
    jmp  proc_exit              ; kernel/proc.s

; A fault in the kernel: there is nothing sensible left to do.
kernel_panic:
    li   r1, s_panic
    call puts
    mfcr r1, cause
    call print_uint
    li   r1, s_at_pc
    call puts
    mfcr r1, epc
    call print_hex
    li   r1, s_badaddr
    call puts
    mfcr r1, badaddr
    call print_hex
    call newline
    li   r1, 125
    out  0xff, r1

; return_current: go back to the thread in r10 (its state and saved registers are ready).
; return_to: the same, for any thread r10 (the lock is held; it is released here).
return_current:
return_to:
    li   r1, TS_RUNNING
    st   r1, [r10 + T_STATE]
    ld   r1, [r11 + C_ID]
    st   r1, [r10 + T_CPU]
    st   r11, [r10 + T_CPUBLK]
    st   r10, [r11 + C_CURRENT]
    ld   r1, [r10 + T_PROC]
    ld   r1, [r1 + P_DIR]
    ld   r2, [r11 + C_PTBR]
    beq  r1, r2, rt_same_space  ; a thread of the same process: keep the TLB
    mtcr ptbr, r1               ; another address space (this also empties the TLB)
    st   r1, [r11 + C_PTBR]
rt_same_space:
    call kunlock
    ld   r1, [r10 + T_PC]
    mtcr epc, r1
    li   r1, USER_STATUS
    mtcr status, r1
    mov  r1, r10
    ld   r0, [r1 + 0]
    ld   r2, [r1 + 8]
    ld   r3, [r1 + 12]
    ld   r4, [r1 + 16]
    ld   r5, [r1 + 20]
    ld   r6, [r1 + 24]
    ld   r7, [r1 + 28]
    ld   r8, [r1 + 32]
    ld   r9, [r1 + 36]
    ld   r10, [r1 + 40]
    ld   r11, [r1 + 44]
    ld   r12, [r1 + 48]
    ld   r13, [r1 + 52]
    ld   r14, [r1 + 56]
    ld   r15, [r1 + 60]
    ld   r1, [r1 + 4]
    iret
