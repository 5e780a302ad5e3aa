; kernel/data.s -- the kernel's variables, tables and messages, and its stack.

.align 4
current:        .word 0         ; the TCB whose registers the next trap saves
rr_last:        .word 0         ; the task that the scheduler picked last
live:           .word 0         ; tasks not finished yet
ticks:          .word 0         ; timer interrupts since boot
next_frame:     .word KERNEL_END    ; the frame pool starts right after the kernel
page_dir:       .word 0         ; the one page directory (its entry: the running task's table)
stat_syscalls:  .word 0
stat_switches:  .word 0         ; address-space switches (another table in the directory)
stat_demand:    .word 0         ; pages mapped on demand
stat_idle:      .word 0         ; times the kernel went idle

; The task control blocks, one per task, and one for the idle loop (a place for trap_entry
; to save the registers of the idle loop, which are never needed again).
tasks:          .space NTASKS * T_SIZE
tasks_end:
idle_tcb:       .space T_SIZE

; The names of the causes, indexed by cause number.
cause_names:
    .word s_cause_unknown, s_cause_syscall, s_cause_breakpoint, s_cause_privileged
    .word s_cause_illegal, s_cause_pf_read, s_cause_pf_write, s_cause_pf_fetch
    .word s_cause_divide
    .word s_cause_unknown, s_cause_unknown, s_cause_unknown, s_cause_unknown
    .word s_cause_unknown, s_cause_unknown, s_cause_unknown
    .word s_cause_timer, s_cause_device

s_cause_unknown:    .asciz "unknown cause"
s_cause_syscall:    .asciz "system call"
s_cause_breakpoint: .asciz "breakpoint"
s_cause_privileged: .asciz "privileged instruction"
s_cause_illegal:    .asciz "illegal instruction"
s_cause_pf_read:    .asciz "page fault on read"
s_cause_pf_write:   .asciz "page fault on write"
s_cause_pf_fetch:   .asciz "page fault on fetch"
s_cause_divide:     .asciz "divide by zero"
s_cause_timer:      .asciz "timer interrupt"
s_cause_device:     .asciz "device interrupt"

s_need_mem:     .asciz "[kernel] this kernel needs 64 KiB of memory: run it with --mem 64K\n"
s_kernel:       .asciz "[kernel] "
s_task:         .asciz "task "
s_booting:      .asciz "booting: "
s_booting2:     .asciz " tasks, a timer interrupt every "
s_booting3:     .asciz " instructions\n"
s_pt:           .asciz ": page table "
s_data:         .asciz ", data and stack "
s_paging_on:    .asciz "paging on; starting the tasks\n"
s_breakpoint:   .asciz ": breakpoint at pc "
s_r1_is:        .asciz " (r1 = "
s_resuming:     .asciz "), resuming\n"
s_colon:        .asciz ": "
s_at:           .asciz " at "
s_mapped:       .asciz ": mapped frame "
s_there:        .asciz " there\n"
s_killed:       .asciz " killed: "
s_at_pc:        .asciz " at pc "
s_address:      .asciz " (address "
s_panic:        .asciz "PANIC: "
s_exited:       .asciz " exited with code "
s_all_done:     .asciz "all tasks have finished after "
s_ticks:        .asciz " timer ticks:\n"
s_indent:       .asciz "  "
s_sum_exit:     .asciz ": exit code "
s_sum_killed:   .asciz ": killed, "
s_stat_syscalls:    .asciz " system calls, "
s_stat_timer:       .asciz " timer interrupts, "
s_stat_switches:    .asciz " address-space switches, "
s_stat_demand:      .asciz " page mapped on demand, "
s_stat_idle:        .asciz " times idle\n"
s_power_off:    .asciz "powering off\n"

; Task 4 tries to get this printed. It never is.
kernel_secret:  .asciz "the kernel's secret"

; The kernel stack fills the rest of the kernel's memory, up to KERNEL_END, and grows down
; from there. If the kernel ever grows past KERNEL_END this size goes negative and the
; assembler stops with an error, instead of the frame pool quietly overwriting the kernel.
.align 4
kernel_stack:   .space KERNEL_END - kernel_stack
