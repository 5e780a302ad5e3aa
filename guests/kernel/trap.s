; kernel/trap.s -- the one way into the kernel after boot.
;
; Every system call, fault and interrupt arrives at trap_entry (the address in `evec`),
; with the CPU already in kernel mode, interrupts off, and:
;   epc      where the interrupted program goes on (for a fault: the faulting instruction)
;   cause    why we are here (1 syscall, 2 breakpoint, 3..8 faults, 16 timer)
;   badaddr  the faulting address of a page fault, or n for `sys n`
;   status   PKM/PIE: the mode and interrupt flag the program had (PKM = 1: it was us)
;
; But all 16 general registers still hold the interrupted program's values, and the kernel
; needs registers to do anything at all, even to find where to save them. `scratch` solves
; that: park r1 in it, use r1 to find the task's control block, save the other registers,
; then fetch r1 back out of `scratch` and save it too.

trap_entry:
    mtcr scratch, r1            ; r1 is free now; its value waits in scratch
    li   r1, current
    ld   r1, [r1]               ; r1 = the TCB of whatever was running
    st   r0, [r1 + T_REGS + 0 * 4]
    st   r2, [r1 + T_REGS + 2 * 4]
    st   r3, [r1 + T_REGS + 3 * 4]
    st   r4, [r1 + T_REGS + 4 * 4]
    st   r5, [r1 + T_REGS + 5 * 4]
    st   r6, [r1 + T_REGS + 6 * 4]
    st   r7, [r1 + T_REGS + 7 * 4]
    st   r8, [r1 + T_REGS + 8 * 4]
    st   r9, [r1 + T_REGS + 9 * 4]
    st   r10, [r1 + T_REGS + 10 * 4]
    st   r11, [r1 + T_REGS + 11 * 4]
    st   r12, [r1 + T_REGS + 12 * 4]
    st   r13, [r1 + T_REGS + 13 * 4]
    st   r14, [r1 + T_REGS + 14 * 4]
    st   r15, [r1 + T_REGS + 15 * 4]    ; the task's own sp
    mfcr r2, scratch
    st   r2, [r1 + T_REGS + 1 * 4]      ; and r1 at last
    mfcr r2, epc
    st   r2, [r1 + T_PC]

    ; Now the kernel's world: its own stack (empty: no trap is ever left half-handled),
    ; r0 = 0, r10 = the current TCB.
    mov  r10, r1
    li   sp, KERNEL_END
    li   r0, 0

    ; A fault with PKM = 1 happened in the kernel itself: a kernel bug. Only the timer
    ; may interrupt the kernel (in the idle loop, the only place it runs with IE = 1).
    mfcr r1, cause
    mfcr r2, status
    and  r2, r2, ST_PKM
    beq  r2, r0, te_dispatch
    li   r2, CAUSE_TIMER
    bne  r1, r2, panic

te_dispatch:
    ; One handler per cause, found in a table: cause * 4 is the offset of its address.
    li   r2, CAUSE_DEVICE
    bltu r2, r1, panic          ; a cause beyond the table: cannot happen
    shl  r2, r1, 2
    ld   r2, [r2 + trap_table]
    jmp  r2

trap_table:
    .word panic                 ;  0  (never a cause)
    .word on_syscall            ;  1  sys n               -> kernel/syscall.s
    .word on_breakpoint         ;  2  brk
    .word on_fault              ;  3  privileged instruction in user mode
    .word on_fault              ;  4  illegal instruction
    .word on_page_fault         ;  5  page fault on read
    .word on_page_fault         ;  6  page fault on write
    .word on_fault              ;  7  page fault on fetch
    .word on_fault              ;  8  divide by zero
    .word panic, panic, panic, panic, panic, panic, panic      ; 9..15: unused
    .word on_timer              ; 16  timer interrupt     -> kernel/sched.s
    .word panic                 ; 17  device interrupt: no device has them enabled

; --- A breakpoint: report it and carry on ---------------------------------------------
; `brk` is how a debugger stops a program. epc already points past it, so simply
; returning resumes the task. A real kernel would hand the task to a debugger here.
on_breakpoint:
    call kmsg
    call print_task
    li   r1, s_breakpoint       ; ": breakpoint at pc "
    call puts
    ld   r1, [r10 + T_PC]
    sub  r1, r1, 1              ; epc is past the 1-byte brk: show the brk itself
    call print_hex
    li   r1, s_r1_is            ; " (r1 = "
    call puts
    ld   r1, [r10 + T_REGS + 1 * 4]
    call print_int
    li   r1, s_resuming         ; "), resuming"
    call puts
    jmp  return_to_task

; --- Page faults: maybe demand paging, otherwise fatal -----------------------------------
; The heap page of every task starts out unmapped. Its first use faults; the kernel then
; maps a fresh frame there and returns to the SAME instruction (for a fault, epc is the
; faulting instruction), which now succeeds. The task never notices. A fault anywhere
; else is a bug in the task, and kills it.
on_page_fault:
    mfcr r1, badaddr
    shr  r2, r1, 12
    li   r3, USER_HEAP >> 12
    bne  r2, r3, on_fault       ; not the heap page
    ld   r5, [r10 + T_PT]
    ld   r4, [r5 + (USER_HEAP >> 12) * 4]
    and  r4, r4, PTE_PRESENT
    bne  r4, r0, on_fault       ; already mapped: this was a real violation
    call alloc_frame
    beq  r1, r0, on_fault       ; out of memory: the task dies
    mov  r6, r1
    or   r4, r1, PTE_PRESENT | PTE_WRITABLE | PTE_USER
    st   r4, [r5 + (USER_HEAP >> 12) * 4]
    ; After editing a page table, flush the TLB so that no stale translation survives.
    ; (This entry was not present, and the TLB keeps only present mappings, so strictly
    ; there is nothing stale here; the rule is simpler than the exceptions to it.)
    tlbflush
    li   r1, USER_HEAP          ; wipe the frame through the task's own mapping: the
    li   r2, PAGE               ; kernel may use user pages, and this is the address
    call memzero                ; the task will see it at
    li   r1, stat_demand
    ld   r2, [r1]
    add  r2, r2, 1
    st   r2, [r1]
    ; "[kernel] task 1: page fault on write at 0x0000e000: mapped frame 0x0000e000 there"
    call kmsg
    call print_task
    li   r1, s_colon
    call puts
    mfcr r1, cause
    call puts_cause
    li   r1, s_at
    call puts
    mfcr r1, badaddr
    call print_hex
    li   r1, s_mapped
    call puts
    mov  r1, r6
    call print_hex
    li   r1, s_there
    call puts
    jmp  return_to_task         ; re-executes the faulting instruction

; --- Faults: the task has done something it may not do; it dies ----------------------
; "[kernel] task 3 killed: privileged instruction at pc 0x000100f2"
; (page faults add "(address 0x...)")
on_fault:
    call kmsg
    call print_task
    li   r1, s_killed
    call puts
    mfcr r1, cause
    call puts_cause
    li   r1, s_at_pc
    call puts
    ld   r1, [r10 + T_PC]       ; for a fault: the instruction that faulted
    call print_hex
    mfcr r1, cause
    li   r2, CAUSE_PAGE_FAULT_READ
    bltu r1, r2, of_no_address
    li   r2, CAUSE_PAGE_FAULT_FETCH
    bltu r2, r1, of_no_address
    li   r1, s_address
    call puts
    mfcr r1, badaddr
    call print_hex
    li   r1, ')'
    call putc
of_no_address:
    call newline
    mfcr r1, cause
    st   r1, [r10 + T_EXIT]
    mfcr r1, badaddr
    st   r1, [r10 + T_BADADDR]
    li   r1, 1
    st   r1, [r10 + T_KILLED]
    jmp  task_done              ; -> kernel/sched.s

; --- A fault in the kernel itself --------------------------------------------------------
panic:
    call kmsg
    li   r1, s_panic
    call puts
    mfcr r1, cause
    call puts_cause
    li   r1, s_at_pc
    call puts
    mfcr r1, epc
    call print_hex
    li   r1, s_address
    call puts
    mfcr r1, badaddr
    call print_hex
    li   r1, ')'
    call putc
    call newline
    li   r1, 1
    out  PORT_POWER, r1               ; power off, exit status 1

; puts_cause: print the name of cause r1. Preserves every register.
puts_cause:
    push r1
    shl  r1, r1, 2              ; causes are 0..17 here: trap_entry checked
    ld   r1, [r1 + cause_names]
    call puts
    pop  r1
    ret
