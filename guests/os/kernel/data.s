; kernel/data.s -- the kernel's variables, tables, buffers and stacks.
;
; All of it lies in the kernel's image, below `kernel_end`; the frames handed out to
; processes start at the first page after it. Everything shared between CPUs is read and
; written with the big lock held (kernel/sched.s), except `booted` and the lock itself.

    .align 4
mem_top:        .word 0         ; the end of the memory the kernel uses
next_frame:     .word 0         ; the bump pointer of the frame allocator
free_list:      .word 0         ; frames given back, linked through their first word
frames_used:    .word 0
kernel_pde:     .word 0         ; directory entry 0 of every address space
kernel_dir:     .word 0         ; a directory with only the kernel (idle CPUs use it)
booted:         .word 0         ; CPU 0 sets it when the others may start
big_lock:       .word 0
idle_mask:      .word 0         ; bit n: CPU n waits in the idle loop
runq_head:      .word 0
runq_tail:      .word 0
ticks:          .word 0         ; timer ticks of CPU 0 since boot
next_wake:      .word 0         ; the earliest tick a sleeper waits for
nsleep:         .word 0         ; threads sleeping
next_pid:       .word 1
next_tid:       .word 1
verbose:        .word 0         ; --os-verbose
nprograms:      .word 0
exec_name_buf:  .space NAME_MAX + 4
    .align 4
exec_space:     .space P_SIZE   ; exec builds the new address space's description here

s_os:           .asciz "[os] "
s_pid:          .asciz "pid "
s_fault:        .asciz " killed: cause "
s_at_pc:        .asciz " at pc "
s_badaddr:      .asciz ", badaddr "
s_exited:       .asciz " exited with status "
s_frames:       .asciz " (frames in use: "
s_booted:       .asciz "booted; running pid 1\n"
s_exec:         .asciz " exec "
s_panic:        .asciz "[os] panic: cause "
s_no_disk:      .asciz "[os] no program disk (run the OS with hv os)\n"
s_no_memory:    .asciz "[os] not enough memory for pid 1\n"

frame_refs:     .space MAX_MEM / PAGE   ; how many page-table entries map each frame
    .align 4
disk_hdr:       .space 512
disk_dir:       .space MAX_PROGRAMS * DE_SIZE_OF
cpus:           .space NCPU_MAX * C_SIZE
procs:          .space NPROC * P_SIZE
procs_end:
threads:        .space NTHREAD * T_SIZE
threads_end:
idle_tcbs:      .space NCPU_MAX * T_SIZE
cpu_stacks:     .space NCPU_MAX * KSTACK
kernel_end:
