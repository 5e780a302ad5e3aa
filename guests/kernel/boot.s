; kernel/boot.s -- from power-on to the first user task.
;
; The machine starts us in kernel mode with paging and interrupts off, every register 0
; except pc (here) and sp (the top of memory). Physical addresses are all there is, so this
; is the time to build the page tables: once paging is on, the kernel can reach only what
; they map.

boot:
    ; sp = the top of memory is the only way to learn how much memory there is.
    li   r1, MEM_NEEDED
    bgeu sp, r1, boot_mem_ok
    li   r1, s_need_mem
    call puts                   ; borrows the boot stack at the top of memory
    li   r1, 1
    out  PORT_POWER, r1               ; power off, exit status 1
boot_mem_ok:
    li   sp, KERNEL_END         ; the kernel stack: the top of the kernel's own memory
    li   r0, 0                  ; the kernel's convention: r0 = 0
    li   r1, idle_tcb           ; a trap before the first task runs would save its
    li   r2, current            ; registers into the idle block (see kernel/sched.s)
    st   r1, [r2]
    li   r1, trap_entry         ; every trap and interrupt, whatever its cause, goes here
    mtcr evec, r1

    call kmsg                   ; "[kernel] booting: 5 tasks, a timer interrupt every ..."
    li   r1, s_booting
    call puts
    li   r1, NTASKS
    call print_uint
    li   r1, s_booting2
    call puts
    li   r1, TIMER_PERIOD
    call print_uint
    li   r1, s_booting3
    call puts

    ; --- 1. The page directory, and a page table for every task ---------------------
    ; These come first, so that they land low in the frame pool, which the kernel keeps
    ; reaching through its identity mapping (the demand-paging handler edits the tables
    ; while paging is on, the scheduler the directory).
    call alloc_frame
    li   r2, page_dir
    st   r1, [r2]
    li   r10, tasks
    li   r11, 1                 ; pid
boot_tables:
    st   r11, [r10 + T_PID]
    call alloc_frame
    st   r1, [r10 + T_PT]
    add  r10, r10, T_SIZE
    add  r11, r11, 1
    li   r1, NTASKS
    bge  r1, r11, boot_tables   ; while pid <= NTASKS

    ; --- 2. An address space for every task ------------------------------------------
    li   r10, tasks
boot_spaces:
    call make_address_space
    add  r10, r10, T_SIZE
    li   r1, tasks_end
    bltu r10, r1, boot_spaces

    ; --- 3. Paging on ----------------------------------------------------------------
    ; The directory needs one entry: virtual 0..4 MiB, through the running task's page
    ; table (the first task's, to begin with: any would do for the kernel, they all map it
    ; the same way). A page's rights are the AND of both levels, so this entry grants
    ; everything (U included) and the page-table entries decide, page by page. The next
    ; instruction is fetched through the tables already, and finds itself at the same
    ; address thanks to the identity mapping.
    li   r10, tasks
    ld   r1, [r10 + T_PT]
    or   r1, r1, PTE_PRESENT | PTE_WRITABLE | PTE_USER
    li   r2, page_dir
    ld   r2, [r2]
    st   r1, [r2]
    mtcr ptbr, r2
    li   r1, ST_KM | ST_PG      ; kernel mode, paging on, interrupts still off
    mtcr status, r1
    call kmsg
    li   r1, s_paging_on
    call puts

    ; --- 4. Start the clock and run the first task -------------------------------------
    li   r1, NTASKS
    li   r2, live
    st   r1, [r2]
    li   r1, tasks_end - T_SIZE ; pretend the last task ran last: round robin starts at 1
    li   r2, rr_last
    st   r1, [r2]
    li   r1, TIMER_PERIOD
    out  PORT_TIMER, r1               ; from now on, a timer interrupt every TIMER_PERIOD
                                ; instructions (taken only while IE = 1: in user mode)
    jmp  schedule

; make_address_space: r10 = the TCB. Fills in the task's page table, gives it a data page,
; and sets the registers the task starts with. Clobbers r1-r8.
make_address_space:
    ld   r5, [r10 + T_PT]

    ; All of physical memory at its own address, present and writable but without U:
    ; the kernel can use it, user mode cannot. Fresh frames read 0 (nothing has used them
    ; since power-on), so every other entry is already "not present".
    li   r2, 0                  ; r2 = page number
    li   r3, MEM_NEEDED / PAGE
mas_identity:
    shl  r4, r2, 12             ; the frame with the same number...
    or   r4, r4, PTE_PRESENT | PTE_WRITABLE  ; ...kernel-only
    shl  r6, r2, 2              ; entry r2 is at pt + 4 * r2
    add  r6, r6, r5
    st   r4, [r6]
    add  r2, r2, 1
    blt  r2, r3, mas_identity

    ; The user window replaces three of those entries. The code is the program's one
    ; physical copy, read-only, so no task can change what the others run; the data page
    ; is a frame of the task's own.
    li   r4, USER_CODE | PTE_PRESENT | PTE_USER
    st   r4, [r5 + (USER_CODE >> 12) * 4]
    call alloc_frame
    mov  r8, r1                 ; r8 = data frame
    or   r4, r1, PTE_PRESENT | PTE_WRITABLE | PTE_USER
    st   r4, [r5 + (USER_DATA >> 12) * 4]
    st   r0, [r5 + (USER_HEAP >> 12) * 4]   ; the heap: nothing until the task touches it

    ; The first return to user mode starts the task at the top of its program with an
    ; empty stack and every other register 0 (the TCB was 0 to begin with).
    li   r1, USER_CODE
    st   r1, [r10 + T_PC]
    li   r1, USER_DATA + PAGE   ; the stack grows down from the top of the data page
    st   r1, [r10 + T_REGS + 15 * 4]
    li   r1, TS_READY
    st   r1, [r10 + T_STATE]

    ; "[kernel] task 1: page table 0x00003000, data and stack 0x00008000"
    call kmsg
    call print_task
    li   r1, s_pt
    call puts
    ld   r1, [r10 + T_PT]
    call print_hex
    li   r1, s_data
    call puts
    mov  r1, r8
    call print_hex
    call newline
    ret

; alloc_frame: r1 = the physical address of a free 4 KiB frame, or 0 when memory is full.
; Frames are handed out in order and never given back (this kernel creates its tasks once).
; The template's frame is skipped: it holds the master copy of the user program.
alloc_frame:
    push r2
    push r3
    li   r3, next_frame
    ld   r1, [r3]
    li   r2, USER_CODE
    bne  r1, r2, af_not_template
    add  r1, r1, PAGE
af_not_template:
    li   r2, MEM_NEEDED
    bltu r1, r2, af_ok
    li   r1, 0                  ; out of memory
    jmp  af_done
af_ok:
    add  r2, r1, PAGE
    st   r2, [r3]
af_done:
    pop  r3
    pop  r2
    ret

; memzero: clear r2 bytes at r1 (a multiple of 4). Clobbers r1-r3.
memzero:
    add  r3, r1, r2
mz_loop:
    bgeu r1, r3, mz_done
    st   r0, [r1]
    add  r1, r1, 4
    jmp  mz_loop
mz_done:
    ret
