; kernel/proc.s -- processes: the disk's programs, fork, exec, exit, wait.
;
; A process is an address space and the threads that share it; its PCB keeps the space's
; shape (directory, heap, stack slots), its family (parent) and its end (exit status).
; fork copies the caller's pages into a new space (no copy-on-write: every page is copied,
; which is what the creation demo measures). exec reads a program from the disk into a
; new space and drops the old one. A process ends when its last thread does, or at once
; with exit or a fault: its other threads are stopped first (kernel/thread.s). It then
; stays a zombie, holding its exit status, until its parent's wait collects it; a process
; whose parent has gone (an orphan) is let go as soon as it ends.

; --- The disk ---------------------------------------------------------------------------

; read_directory: sector 0 (the header) and the directory into kernel memory, by DMA.
read_directory:
    li   r1, 0
    li   r2, disk_hdr
    li   r3, 1
    call disk_read
    bne  r1, r0, rd_bad
    ld   r1, [r0 + disk_hdr + DH_MAGIC]
    li   r2, D_MAGIC
    bne  r1, r2, rd_bad
    ld   r1, [r0 + disk_hdr + DH_FLAGS]
    and  r1, r1, 1
    st   r1, [r0 + verbose]
    ld   r1, [r0 + disk_hdr + DH_COUNT]
    li   r2, MAX_PROGRAMS
    bgeu r2, r1, rd_count
    mov  r1, r2                 ; more programs than the kernel's table: the rest are unseen
rd_count:
    st   r1, [r0 + nprograms]
    beq  r1, r0, rd_bad
    add  r3, r1, 15
    shr  r3, r3, 4              ; 16 entries a sector
    ld   r1, [r0 + disk_hdr + DH_DIRSECT]
    li   r2, disk_dir
    call disk_read
    bne  r1, r0, rd_bad
    ret
rd_bad:
    li   r1, s_no_disk
    call puts
    li   r1, 125
    out  0xff, r1

; disk_read: r3 sectors from sector r1 into physical address r2. r1 = the disk's status
; (0 = done). The transfer is complete when the `out` that starts it returns.
disk_read:
    out  0x30, r1
    out  0x31, r2
    out  0x32, r3
    li   r1, 1
    out  0x33, r1
    in   r1, 0x33
    ret

; find_program: r1 = the directory entry named by the string at r1, or 0.
find_program:
    li   r2, disk_dir
    ld   r3, [r0 + nprograms]
    shl  r3, r3, 5
    add  r3, r3, r2             ; the end of the entries
fp_entry:
    bgeu r2, r3, fp_none
    li   r4, 0
fp_char:
    add  r5, r1, r4
    ldb  r5, [r5]
    add  r6, r2, r4
    ldb  r6, [r6]
    bne  r5, r6, fp_next
    beq  r5, r0, fp_found
    add  r4, r4, 1
    li   r5, NAME_MAX
    bltu r4, r5, fp_char
fp_next:
    add  r2, r2, DE_SIZE_OF
    jmp  fp_entry
fp_found:
    mov  r1, r2
    ret
fp_none:
    li   r1, 0
    ret

; load_program: build an address space for the program of directory entry r1 and
; describe it in the PCB-shaped record r2 (P_DIR, the heap, stack slot 0). r1 = 1, or 0
; if memory ran out (everything taken is given back). Clobbers r1-r7.
load_program:
    push r8
    push r9
    push r13
    push r14
    mov  r8, r1
    mov  r9, r2
    st   r0, [r9 + P_HEAPMAP]   ; nothing mapped yet, for free_space
    st   r0, [r9 + P_SLOTMAX]
    call new_space
    st   r1, [r9 + P_DIR]
    beq  r1, r0, lp_fail_nodir
    li   r13, 0                 ; r13 = offset in the image
lp_page:
    ld   r1, [r8 + DE_SIZE]
    bgeu r13, r1, lp_loaded
    call alloc_frame
    beq  r1, r0, lp_fail
    mov  r14, r1
    ld   r1, [r8 + DE_SIZE]
    sub  r3, r1, r13
    add  r3, r3, 511
    shr  r3, r3, 9              ; sectors left
    li   r1, PAGE / 512
    bgeu r1, r3, lp_count
    mov  r3, r1
lp_count:
    push r3
    ld   r1, [r8 + DE_START]
    shr  r2, r13, 9
    add  r1, r1, r2
    mov  r2, r14
    call disk_read
    pop  r3
    bne  r1, r0, lp_fail_frame
    shl  r3, r3, 9              ; clear the rest of the page after what came from disk
    add  r3, r3, r14
    add  r4, r14, PAGE
lp_clear:
    bgeu r3, r4, lp_map
    st   r0, [r3]
    add  r3, r3, 4
    jmp  lp_clear
lp_map:
    ld   r1, [r9 + P_DIR]
    add  r2, r13, USER_BASE
    mov  r3, r14
    call map_page
    beq  r1, r0, lp_fail_frame
    add  r13, r13, PAGE
    add  r1, r13, USER_BASE
    st   r1, [r9 + P_HEAPMAP]
    jmp  lp_page
lp_loaded:
    add  r1, r13, USER_BASE     ; the heap starts on the page after the image
    st   r1, [r9 + P_HEAPSTART]
    st   r1, [r9 + P_BRK]
    st   r1, [r9 + P_HEAPMAP]
    li   r1, 1                  ; stack slot 0, for the first thread
    st   r1, [r9 + P_SLOTMAX]
    st   r1, [r9 + P_SLOTS]
    st   r0, [r9 + P_SLOTS + 4]
    st   r0, [r9 + P_SLOTS + 8]
    st   r0, [r9 + P_SLOTS + 12]
    call alloc_zero             ; and the top page of that slot, with the address the first
    beq  r1, r0, lp_fail        ; thread returns to on top, as every thread has (so that
    li   r2, THREAD_RETURN      ; even a program that starts at its own main may return)
    st   r2, [r1 + PAGE - 4]
    mov  r3, r1
    ld   r1, [r9 + P_DIR]
    li   r2, STACK_BASE + STACK_SLOT - PAGE
    call map_page
    beq  r1, r0, lp_fail_stack
    li   r1, 1
    jmp  lp_out
lp_fail_stack:
    mov  r1, r3
    call free_frame
    jmp  lp_fail
lp_fail_frame:
    mov  r1, r14
    call free_frame
lp_fail:
    mov  r1, r9
    call free_space
lp_fail_nodir:
    li   r1, 0
lp_out:
    pop  r14
    pop  r13
    pop  r9
    pop  r8
    ret

; --- Tables -------------------------------------------------------------------------------

; alloc_proc: r1 = a free PCB (cleared; not yet in use), or 0. Clobbers r1-r3.
alloc_proc:
    li   r1, procs
ap_loop:
    ld   r2, [r1 + P_STATE]
    beq  r2, r0, ap_clear
    add  r1, r1, P_SIZE
    li   r2, procs_end
    bltu r1, r2, ap_loop
    li   r1, 0
    ret
ap_clear:
    li   r2, 0
ap_zero:
    add  r3, r1, r2
    st   r0, [r3]
    add  r2, r2, 4
    li   r3, P_SIZE
    bltu r2, r3, ap_zero
    ret

; alloc_thread: r1 = a free TCB (cleared, with a new tid; not yet in use), or 0.
; Clobbers r1-r3.
alloc_thread:
    li   r1, threads
at_loop:
    ld   r2, [r1 + T_STATE]
    beq  r2, r0, at_clear
    add  r1, r1, T_SIZE
    li   r2, threads_end
    bltu r1, r2, at_loop
    li   r1, 0
    ret
at_clear:
    li   r2, 0
at_zero:
    add  r3, r1, r2
    st   r0, [r3]
    add  r2, r2, 4
    li   r3, T_SIZE
    bltu r2, r3, at_zero
    ld   r2, [r0 + next_tid]
    st   r2, [r1 + T_TID]
    add  r2, r2, 1
    st   r2, [r0 + next_tid]
    ret

; new_pid: r1 = the next process id. Clobbers r2.
new_pid:
    ld   r1, [r0 + next_pid]
    add  r2, r1, 1
    st   r2, [r0 + next_pid]
    ret

; --- pid 1 ----------------------------------------------------------------------------------

; spawn_first: process 1 runs the program of directory entry r1 (the first on the disk).
spawn_first:
    push r8
    mov  r8, r1
    call alloc_proc
    mov  r12, r1
    mov  r1, r8
    mov  r2, r12
    call load_program
    beq  r1, r0, sf_nomem
    call new_pid
    st   r1, [r12 + P_PID]
    li   r1, PS_ALIVE
    st   r1, [r12 + P_STATE]
    li   r1, 1
    st   r1, [r12 + P_NTHREADS]
    st   r1, [r12 + P_NLIVE]
    call alloc_thread
    st   r12, [r1 + T_PROC]
    ld   r2, [r8 + DE_ENTRY]
    st   r2, [r1 + T_PC]
    li   r2, STACK_BASE + STACK_SLOT - 4
    st   r2, [r1 + 60]
    call make_ready
    pop  r8
    ret
sf_nomem:
    li   r1, s_no_memory
    call puts
    li   r1, 125
    out  0xff, r1

; --- System calls -------------------------------------------------------------------------

; getpid() -> the pid
sys_getpid:
    ld   r1, [r12 + P_PID]
    jmp  sys_return

; fork() -> the child's pid, 0 in the child
sys_fork:
    call alloc_proc
    beq  r1, r0, sys_nomem
    mov  r13, r1                ; r13 = the child
    call alloc_thread
    beq  r1, r0, sys_nomem
    mov  r14, r1                ; r14 = its one thread (a copy of the caller)
    call new_space
    st   r1, [r13 + P_DIR]
    beq  r1, r0, sys_nomem
    ; The child's shape: the parent's heap, and only the caller's stack slot.
    ld   r1, [r12 + P_HEAPSTART]
    st   r1, [r13 + P_HEAPSTART]
    ld   r1, [r12 + P_BRK]
    st   r1, [r13 + P_BRK]
    ld   r1, [r12 + P_HEAPMAP]
    st   r1, [r13 + P_HEAPMAP]
    ld   r2, [r10 + T_SLOT]
    add  r1, r2, 1
    st   r1, [r13 + P_SLOTMAX]
    shr  r3, r2, 5
    shl  r3, r3, 2
    add  r3, r3, r13
    and  r4, r2, 31
    li   r5, 1
    shl  r5, r5, r4
    st   r5, [r3 + P_SLOTS]
    ; The pages: image and heap are shared copy-on-write; the caller's stack slot is copied
    ; (it is written at once, by the child's first call or return).
    ld   r1, [r12 + P_DIR]
    ld   r2, [r13 + P_DIR]
    li   r3, USER_BASE
    ld   r4, [r12 + P_HEAPMAP]
    call share_range
    tlbflush                    ; our own entries for those pages were writable
    beq  r1, r0, fork_undo
    ld   r3, [r10 + T_SLOT]
    mul  r3, r3, STACK_SLOT
    add  r3, r3, STACK_BASE
    add  r4, r3, STACK_SLOT
    ld   r1, [r12 + P_DIR]
    ld   r2, [r13 + P_DIR]
    call copy_range
    beq  r1, r0, fork_undo
    ; The child process and its thread.
    call new_pid
    st   r1, [r13 + P_PID]
    st   r12, [r13 + P_PARENT]
    li   r1, 1
    st   r1, [r13 + P_NTHREADS]
    st   r1, [r13 + P_NLIVE]
    li   r1, PS_ALIVE
    st   r1, [r13 + P_STATE]
    li   r1, 0                  ; registers and pc: the caller's
fork_regs:
    add  r2, r10, r1
    ld   r3, [r2]
    add  r2, r14, r1
    st   r3, [r2]
    add  r1, r1, 4
    li   r2, T_PC + 4
    bltu r1, r2, fork_regs
    st   r0, [r14 + 4]          ; fork returns 0 in the child
    st   r13, [r14 + T_PROC]
    ld   r1, [r10 + T_SLOT]
    st   r1, [r14 + T_SLOT]
    li   r1, TS_BLOCKED         ; in use, not yet runnable: the shootdown lets the lock go
    st   r1, [r14 + T_STATE]
    call shootdown              ; the parent's threads on other CPUs lose their W entries
    mov  r1, r14
    call make_ready
    ld   r1, [r13 + P_PID]
    jmp  sys_return
fork_undo:
    mov  r1, r13
    call free_space             ; the child's PCB and TCB were never marked in use
    jmp  sys_nomem

; exec(name) -> only on failure: -5 bad address, -2 no such program, -4 no memory
sys_exec:
    ld   r8, [r10 + 4]          ; r8 = the user's string
    li   r9, 0
exec_name:
    add  r1, r8, r9
    li   r2, 1
    call uaccess
    bne  r1, r0, sys_return     ; -5
    add  r1, r8, r9
    ldb  r1, [r1]
    add  r2, r9, exec_name_buf
    stb  r1, [r2]
    beq  r1, r0, exec_lookup
    add  r9, r9, 1
    li   r1, NAME_MAX
    bltu r9, r1, exec_name
    jmp  exec_not_found         ; longer than any name on the disk
exec_lookup:
    li   r1, exec_name_buf
    call find_program
    beq  r1, r0, exec_not_found
exec_found:
    mov  r8, r1                 ; r8 = the directory entry
    li   r2, exec_space
    call load_program
    beq  r1, r0, sys_nomem
    ld   r13, [r0 + exec_space + P_DIR]       ; keep the new space in registers: the lock
    ld   r14, [r0 + exec_space + P_HEAPSTART] ; may be let go while threads are stopped
    call stop_others            ; kernel/thread.s: this thread is the process's last
    beq  r1, r0, exec_switch
    st   r13, [r0 + exec_space + P_DIR]       ; killed meanwhile: drop the new space
    st   r14, [r0 + exec_space + P_HEAPMAP]
    li   r1, 1
    st   r1, [r0 + exec_space + P_SLOTMAX]
    li   r1, exec_space
    call free_space
    jmp  reap_self
exec_switch:
    mtcr ptbr, r13              ; onto the new space, then drop the old one
    st   r13, [r11 + C_PTBR]
    mov  r1, r12
    call free_space
    st   r13, [r12 + P_DIR]
    st   r14, [r12 + P_HEAPSTART]
    st   r14, [r12 + P_BRK]
    st   r14, [r12 + P_HEAPMAP]
    li   r1, 1
    st   r1, [r12 + P_SLOTMAX]
    st   r1, [r12 + P_SLOTS]
    st   r0, [r12 + P_SLOTS + 4]
    st   r0, [r12 + P_SLOTS + 8]
    st   r0, [r12 + P_SLOTS + 12]
    st   r0, [r10 + T_SLOT]
    li   r1, 0                  ; a fresh start: every register 0, sp at the slot's top
exec_regs:
    add  r2, r10, r1
    st   r0, [r2]
    add  r1, r1, 4
    li   r2, 64
    bltu r1, r2, exec_regs
    li   r1, STACK_BASE + STACK_SLOT - 4
    st   r1, [r10 + 60]
    ld   r1, [r8 + DE_ENTRY]
    st   r1, [r10 + T_PC]
    ld   r1, [r0 + verbose]     ; "[os] pid 3 exec child"
    beq  r1, r0, return_current
    li   r1, s_os
    call puts
    li   r1, s_pid
    call puts
    ld   r1, [r12 + P_PID]
    call print_uint
    li   r1, s_exec
    call puts
    mov  r1, r8                 ; the directory entry starts with the name
    call puts
    call newline
    jmp  return_current

; The one place where exec finds no program named so on the disk: it asks the code
; repository (kernel/repo.s) before giving up.
exec_not_found:
    li   r1, exec_name_buf
    call repo_fetch             ; kernel/repo.s: r1 = a new directory entry, or an error
    bge  r1, r0, exec_found
    jmp  sys_return

; exit(status): does not return.
sys_exit:
    ld   r1, [r10 + 4]
    ; fall through

; proc_exit: end process r12 with status r1; the current thread r10 is one of its threads.
proc_exit:
    st   r1, [r12 + P_STATUS]
    call stop_others
    bne  r1, r0, reap_self      ; another thread ended the process first
    mov  r1, r10
    call free_thread
    call proc_finish
    jmp  schedule

; proc_finish: process r12 has no threads left. Power off if it is pid 1; otherwise give
; back its memory, let its children go, and leave it to its parent as a zombie.
proc_finish:
    ld   r1, [r0 + verbose]
    beq  r1, r0, pf_quiet
    li   r1, s_os
    call puts
    li   r1, s_pid
    call puts
    ld   r1, [r12 + P_PID]
    call print_uint
    li   r1, s_exited
    call puts
    ld   r1, [r12 + P_STATUS]
    call print_int
    li   r1, s_frames           ; " (frames in use: N)", counted before it gives its own back
    call puts
    ld   r1, [r0 + frames_used]
    call print_uint
    li   r1, ')'
    call putc
    call newline
pf_quiet:
    ld   r1, [r12 + P_PID]
    li   r2, 1
    bne  r1, r2, pf_not_init
    ld   r1, [r12 + P_STATUS]
    out  0xff, r1               ; pid 1 has ended: so has the machine
pf_not_init:
    ld   r1, [r11 + C_PTBR]     ; leave the address space before giving it back
    ld   r2, [r12 + P_DIR]
    bne  r1, r2, pf_free
    ld   r1, [r0 + kernel_dir]
    mtcr ptbr, r1
    st   r1, [r11 + C_PTBR]
pf_free:
    mov  r1, r12
    call free_space
    li   r8, procs              ; the children become orphans; dead ones go at once
pf_orphans:
    ld   r1, [r8 + P_PARENT]
    bne  r1, r12, pf_next
    st   r0, [r8 + P_PARENT]
    ld   r1, [r8 + P_STATE]
    li   r2, PS_ZOMBIE
    bne  r1, r2, pf_next
    st   r0, [r8 + P_STATE]
pf_next:
    add  r8, r8, P_SIZE
    li   r1, procs_end
    bltu r8, r1, pf_orphans
    ld   r8, [r12 + P_PARENT]
    bne  r8, r0, pf_zombie
    st   r0, [r12 + P_STATE]    ; nobody will wait for it
    ret
pf_zombie:
    li   r1, PS_ZOMBIE
    st   r1, [r12 + P_STATE]
    li   r9, threads            ; wake the parent's threads waiting in wait()
pf_wake:
    ld   r1, [r9 + T_STATE]
    li   r2, TS_BLOCKED
    bne  r1, r2, pf_wnext
    ld   r1, [r9 + T_WKIND]
    li   r2, W_WAIT
    bne  r1, r2, pf_wnext
    ld   r1, [r9 + T_PROC]
    bne  r1, r8, pf_wnext
    mov  r1, r9
    call make_ready             ; its wait() runs again and finds the zombie
pf_wnext:
    add  r9, r9, T_SIZE
    li   r1, threads_end
    bltu r9, r1, pf_wake
    ret

; wait(pid) -> r1 = the child's pid, r2 = its status; -3 if there is no such child
sys_wait:
    ld   r9, [r10 + 4]          ; the pid wanted, or -1
    li   r13, 0                 ; found a matching child at all?
    li   r8, procs
sw_loop:
    ld   r1, [r8 + P_STATE]
    beq  r1, r0, sw_next
    ld   r1, [r8 + P_PARENT]
    bne  r1, r12, sw_next
    li   r1, -1
    beq  r9, r1, sw_match
    ld   r1, [r8 + P_PID]
    bne  r1, r9, sw_next
sw_match:
    li   r13, 1
    ld   r1, [r8 + P_STATE]
    li   r2, PS_ZOMBIE
    bne  r1, r2, sw_next
    ld   r1, [r8 + P_PID]       ; collect it
    ld   r2, [r8 + P_STATUS]
    st   r0, [r8 + P_STATE]
    st   r2, [r10 + 8]
    jmp  sys_return
sw_next:
    add  r8, r8, P_SIZE
    li   r1, procs_end
    bltu r8, r1, sw_loop
    li   r1, E_NOCHILD
    beq  r13, r0, sys_return
    li   r1, W_WAIT             ; a child, still running: wait for it, then look again
    li   r2, 1
    jmp  block
