; kernel/syscall.s -- system calls.
;
; A user program asks the kernel for a service with `sys n`. It traps like any other cause
; (cause 1) with badaddr = n; the arguments are in the task's r1 and r2, which trap_entry
; saved in its TCB, and the result goes back into the saved r1, so that the task finds it
; in r1 when it resumes. epc already points past the `sys`: returning continues the task.
;
; The numbers (see the table in kernel.s): 1 write, 2 yield, 3 getpid, 4 sleep, 5 exit,
; 6 uptime. Anything else returns -1, as an unknown system call does in Unix (ENOSYS).

on_syscall:
    li   r1, stat_syscalls
    ld   r2, [r1]
    add  r2, r2, 1
    st   r2, [r1]
    mfcr r1, badaddr            ; n, from `sys n`
    li   r2, NSYSCALLS
    bgeu r1, r2, sys_unknown    ; unsigned: a huge n is out of range too
    shl  r1, r1, 2
    ld   r1, [r1 + syscall_table]
    jmp  r1

syscall_table:
    .word sys_unknown           ; 0
    .word sys_write             ; 1  write(buf, len) -> len, or -1
    .word sys_yield             ; 2  yield()
    .word sys_getpid            ; 3  getpid() -> pid
    .word sys_sleep             ; 4  sleep(ticks)
    .word sys_exit              ; 5  exit(code)
    .word sys_uptime            ; 6  uptime() -> ticks since boot

sys_unknown:
    li   r1, -1
    ; fall through
; Give r1 to the task as the result of its system call, and resume it.
sys_return:
    st   r1, [r10 + T_REGS + 1 * 4]
    jmp  return_to_task

; write(buf, len): print len bytes from the task's memory at buf.
; The kernel can read every page, kernel pages included, so it must not take the task's
; word for where buf points: a task could ask it to print the kernel's own memory. The
; buffer is checked against the task's page table first: every byte has to lie in a page
; that the task itself could read.
sys_write:
    ld   r1, [r10 + T_REGS + 1 * 4]     ; buf
    ld   r2, [r10 + T_REGS + 2 * 4]     ; len
    call user_readable
    beq  r3, r0, sys_unknown            ; refused: -1
    add  r2, r2, r1                     ; r2 = end of the buffer
sw_loop:
    beq  r1, r2, sw_done
    ldb  r3, [r1]               ; through the task's page table: the directory's entry
    out  PORT_CONSOLE_OUT, r3
    add  r1, r1, 1
    jmp  sw_loop
sw_done:
    ld   r1, [r10 + T_REGS + 2 * 4]     ; the result: every byte was written
    jmp  sys_return

; yield(): the task stays ready; the scheduler simply moves on to the next one.
sys_yield:
    st   r0, [r10 + T_REGS + 1 * 4]     ; returns 0
    jmp  schedule

; getpid()
sys_getpid:
    ld   r1, [r10 + T_PID]
    jmp  sys_return

; sleep(ticks): not runnable until `ticks` more timer interrupts have happened.
sys_sleep:
    ld   r1, [r10 + T_REGS + 1 * 4]
    li   r2, ticks
    ld   r2, [r2]
    add  r1, r1, r2
    st   r1, [r10 + T_WAKE]
    li   r1, TS_SLEEPING
    st   r1, [r10 + T_STATE]
    st   r0, [r10 + T_REGS + 1 * 4]     ; returns 0 (when it wakes)
    jmp  schedule

; exit(code)
sys_exit:
    ld   r1, [r10 + T_REGS + 1 * 4]
    st   r1, [r10 + T_EXIT]
    st   r0, [r10 + T_KILLED]
    call kmsg                   ; "[kernel] task 2 exited with code 0"
    call print_task
    li   r1, s_exited
    call puts
    ld   r1, [r10 + T_EXIT]
    call print_int
    call newline
    jmp  task_done

; uptime()
sys_uptime:
    li   r1, ticks
    ld   r1, [r1]
    jmp  sys_return

; user_readable: r3 = 1 if the r2 bytes at r1 all lie in pages that the current task can
; read (present and user in its page table), else 0. Preserves r1 and r2.
; This kernel maps only the first 4 MiB (one page table), so the buffer must end there.
user_readable:
    push r4
    push r5
    push r6
    li   r3, 1
    beq  r2, r0, ur_done        ; nothing to read: fine
    li   r3, 0
    add  r4, r1, r2             ; r4 = the end of the buffer
    bltu r4, r1, ur_done        ; the buffer wraps around the address space
    li   r5, 0x400000
    bltu r5, r4, ur_done        ; beyond this page table's 4 MiB
    sub  r4, r4, 1
    shr  r4, r4, 12             ; r4 = the last page
    shr  r5, r1, 12             ; r5 = the page being checked
ur_page:
    shl  r6, r5, 2
    ld   r3, [r10 + T_PT]
    add  r6, r6, r3
    ld   r6, [r6]               ; the page-table entry
    and  r6, r6, PTE_PRESENT | PTE_USER
    li   r3, PTE_PRESENT | PTE_USER
    bne  r6, r3, ur_refused     ; not present, or kernel-only
    add  r5, r5, 1
    bgeu r4, r5, ur_page        ; until past the last page
    li   r3, 1
    jmp  ur_done
ur_refused:
    li   r3, 0
ur_done:
    pop  r6
    pop  r5
    pop  r4
    ret
