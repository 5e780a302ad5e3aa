; kernel/sys.s -- the system-call table, and the calls too small for a file of their own.
;
; `sys n` arrives with n in `badaddr` and the arguments in the caller's saved r1-r4 (in
; its TCB: [r10 + 4] is r1, [r10 + 8] r2, ...). A call returns by storing its result into
; the saved r1 (sys_return); every other register comes back as it was. Pointers from user
; programs are checked page by page against the caller's page table (uaccess) before the
; kernel touches them, so a bad pointer is -5 and never a fault in the kernel.

do_syscall:
    mfcr r1, badaddr
    li   r2, NSYSCALLS
    bgeu r1, r2, sys_invalid
    shl  r1, r1, 2
    ld   r1, [r1 + sys_table]
    jmp  r1

sys_table:
    .word sys_invalid           ;  0
    .word sys_exit              ;  1  exit(status)                  kernel/proc.s
    .word sys_write             ;  2  write(buf, len)
    .word sys_read              ;  3  read(buf, len)
    .word sys_fork              ;  4  fork()                        kernel/proc.s
    .word sys_exec              ;  5  exec(name)                    kernel/proc.s
    .word sys_wait              ;  6  wait(pid)                     kernel/proc.s
    .word sys_getpid            ;  7  getpid()                      kernel/proc.s
    .word sys_thread_create     ;  8  thread_create(entry, arg)     kernel/thread.s
    .word sys_thread_exit       ;  9  thread_exit(value)            kernel/thread.s
    .word sys_thread_join       ; 10  thread_join(tid)              kernel/thread.s
    .word sys_yield             ; 11  yield()
    .word sys_sleep             ; 12  sleep(ticks)
    .word sys_gettid            ; 13  gettid()
    .word sys_clock             ; 14  clock()
    .word sys_sbrk              ; 15  sbrk(n)
    .word sys_futex_wait        ; 16  futex_wait(addr, val)
    .word sys_futex_wake        ; 17  futex_wake(addr, n)
    .word sys_send              ; 18  send(buf, len)                kernel/net.s
    .word sys_recv              ; 19  recv(buf, len)                kernel/net.s
.equ NSYSCALLS, 20

sys_invalid:
    li   r1, E_INVAL
    jmp  sys_return
sys_nomem:
    li   r1, E_NOMEM
sys_return:
    st   r1, [r10 + 4]
    jmp  return_current

; write(buf, len) -> len
sys_write:
    ld   r8, [r10 + 4]
    ld   r9, [r10 + 8]
    li   r1, E_INVAL
    blt  r9, r0, sys_return
    mov  r1, r8
    mov  r2, r9
    call uaccess
    bne  r1, r0, sys_return
    add  r2, r8, r9
wr_loop:
    bgeu r8, r2, wr_done
    ldb  r1, [r8]
    out  0x10, r1
    add  r8, r8, 1
    jmp  wr_loop
wr_done:
    mov  r1, r9
    jmp  sys_return

; read(buf, len) -> bytes read; 0 once the input is used up
sys_read:
    ld   r8, [r10 + 4]
    ld   r9, [r10 + 8]
    li   r1, E_INVAL
    blt  r9, r0, sys_return
    mov  r1, r8
    mov  r2, r9
    call uaccess
    bne  r1, r0, sys_return
    mov  r1, r8                 ; the kernel is about to write there: copy on write first
    mov  r2, r9
    call cow_range
    blt  r1, r0, sys_return     ; out of memory
    beq  r1, r0, rd_ready
    ld   r1, [r10 + T_PC]       ; pages were copied, and the lock may have been let go
    sub  r1, r1, 5              ; meanwhile (another thread may have changed the memory):
    st   r1, [r10 + T_PC]       ; run the call again, now with nothing left to copy
    jmp  return_current
rd_ready:
    li   r1, 0
    li   r3, -1
rd_loop:
    bgeu r1, r9, rd_done
    in   r2, 0x11
    beq  r2, r3, rd_done        ; nothing (more) to read
    add  r4, r8, r1
    stb  r2, [r4]
    add  r1, r1, 1
    jmp  rd_loop
rd_done:
    jmp  sys_return

; yield() -> 0
sys_yield:
    st   r0, [r10 + 4]
    ld   r1, [r0 + runq_head]
    beq  r1, r0, return_current ; nobody else is ready
    mov  r1, r10
    call make_ready
    jmp  schedule

; sleep(ticks) -> 0, after at least that many ticks of CPU 0's timer
sys_sleep:
    ld   r1, [r10 + 4]
    st   r0, [r10 + 4]
    bge  r0, r1, return_current ; nothing to wait for
    ld   r2, [r0 + ticks]
    add  r1, r1, r2
    st   r1, [r10 + T_WAKE]
    ld   r3, [r0 + nsleep]
    add  r4, r3, 1
    st   r4, [r0 + nsleep]
    beq  r3, r0, sl_first       ; the only sleeper: it sets the next wake-up
    ld   r2, [r0 + next_wake]
    sub  r2, r1, r2
    bge  r2, r0, sl_block
sl_first:
    st   r1, [r0 + next_wake]
sl_block:
    li   r1, W_SLEEP
    li   r2, 0
    jmp  block

; gettid() -> the tid
sys_gettid:
    ld   r1, [r10 + T_TID]
    jmp  sys_return

; clock() -> the low 32 bits of this CPU's instruction count
sys_clock:
    ICOUNT r1
    jmp  sys_return

; sbrk(n) -> the old end of the heap; -4 when the heap cannot grow that far
sys_sbrk:
    ld   r8, [r12 + P_BRK]
    ld   r1, [r10 + 4]
    add  r9, r8, r1             ; r9 = the new end
    blt  r1, r0, sb_shrink
    bltu r9, r8, sys_nomem      ; wrapped around
    li   r2, HEAP_LIMIT
    bltu r2, r9, sys_nomem
sb_map:
    ld   r13, [r12 + P_HEAPMAP] ; map zeroed pages up to the new end
    bgeu r13, r9, sb_done
    call alloc_zero
    beq  r1, r0, sys_nomem
    mov  r3, r1
    ld   r1, [r12 + P_DIR]
    mov  r2, r13
    call map_page
    beq  r1, r0, sb_nomem
    add  r13, r13, PAGE
    st   r13, [r12 + P_HEAPMAP]
    jmp  sb_map
sb_nomem:
    mov  r1, r3
    call free_frame
    jmp  sys_nomem
sb_shrink:
    ; Shrinking gives back the whole pages above the new end. Another CPU running a
    ; thread of this process may hold their translations in its TLB, so the frames are
    ; freed only after a TLB shootdown (kernel/mem.s).
    bltu r8, r9, sys_invalid    ; wrapped around
    ld   r2, [r12 + P_HEAPSTART]
    bltu r9, r2, sys_invalid    ; below the heap's start
    add  r13, r9, PAGE - 1
    and  r13, r13, ~(PAGE - 1)  ; r13 = the first page no longer needed
    ld   r14, [r12 + P_HEAPMAP]
    bgeu r13, r14, sb_done
    ld   r1, [r12 + P_DIR]
    mov  r2, r13
    mov  r3, r14
    call unmap_range
    st   r13, [r12 + P_HEAPMAP]
    st   r9, [r12 + P_BRK]
    call shootdown              ; (lets the lock go while it waits)
    ld   r1, [r12 + P_DIR]
    mov  r2, r13
    mov  r3, r14
    li   r4, 1
    call free_range
    mov  r1, r8
    jmp  sys_return
sb_done:
    st   r9, [r12 + P_BRK]
    mov  r1, r8
    jmp  sys_return

; futex_wait(addr, val) -> 0 when woken; -1 if the word was not val
sys_futex_wait:
    ld   r8, [r10 + 4]
    mov  r1, r8
    li   r2, 4
    call uaccess
    bne  r1, r0, sys_return
    ld   r1, [r8]
    ld   r2, [r10 + 8]
    bne  r1, r2, sys_invalid
    st   r8, [r10 + T_WCHAN]
    st   r0, [r10 + 4]          ; what it returns once woken
    li   r1, W_FUTEX
    li   r2, 0
    jmp  block

; futex_wake(addr, n) -> threads woken (at most n)
sys_futex_wake:
    ld   r8, [r10 + 4]
    mov  r1, r8
    li   r2, 4
    call uaccess
    bne  r1, r0, sys_return
    ld   r13, [r10 + 8]         ; r13 = how many may still be woken
    li   r14, 0                 ; r14 = woken
    li   r9, threads
fw_loop:
    bge  r14, r13, fw_done
    ld   r1, [r9 + T_STATE]
    li   r2, TS_BLOCKED
    bne  r1, r2, fw_next
    ld   r1, [r9 + T_WKIND]
    li   r2, W_FUTEX
    bne  r1, r2, fw_next
    ld   r1, [r9 + T_WCHAN]
    bne  r1, r8, fw_next
    ld   r1, [r9 + T_PROC]
    bne  r1, r12, fw_next
    mov  r1, r9
    call make_ready
    add  r14, r14, 1
fw_next:
    add  r9, r9, T_SIZE
    li   r1, threads_end
    bltu r9, r1, fw_loop
fw_done:
    mov  r1, r14
    jmp  sys_return

; vputs: print the string at r1 if the kernel is verbose. Preserves every register.
vputs:
    push r2
    ld   r2, [r0 + verbose]
    beq  r2, r0, vp_done
    push r1
    li   r1, s_os
    call puts
    pop  r1
    call puts
vp_done:
    pop  r2
    ret
