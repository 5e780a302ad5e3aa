; kernel/mem.s -- physical frames, page tables, address spaces, and user pointers.
;
; Frames come from a bump pointer over the memory above the kernel (fresh frames are
; zero: the machine starts with zeroed memory) and from a free list of frames given back
; (those hold old data and are cleared when the caller needs zeros). The kernel reaches
; every frame at its physical address through its identity mapping.
;
; An address space is a page directory: entry 0 is the kernel's shared page table, entries
; 1-3 (0x00400000-0x00ffffff) the process's own page tables, made when first needed. Every
; user page is present, writable and user: the image is loaded read/write (brief §9).

; alloc_frame: r1 = a frame, or 0 when memory is full; r2 = 0 if it is known to be zero.
; Clobbers r1-r2.
alloc_frame:
    ld   r1, [r0 + free_list]
    beq  r1, r0, af_bump
    ld   r2, [r1]
    st   r2, [r0 + free_list]
    li   r2, 1
    jmp  af_count
af_bump:
    ld   r1, [r0 + next_frame]
    ld   r2, [r0 + mem_top]
    bgeu r1, r2, af_none
    add  r2, r1, PAGE
    st   r2, [r0 + next_frame]
    li   r2, 0
af_count:
    push r2
    ld   r2, [r0 + frames_used]
    add  r2, r2, 1
    st   r2, [r0 + frames_used]
    shr  r2, r1, 12             ; one user of the frame so far
    push r3
    li   r3, 1
    stb  r3, [r2 + frame_refs]
    pop  r3
    pop  r2
    ret
af_none:
    li   r1, 0
    ret

; alloc_zero: r1 = a zeroed frame, or 0. Clobbers r1-r3.
alloc_zero:
    call alloc_frame
    beq  r1, r0, az_done
    beq  r2, r0, az_done
    call zero_page
az_done:
    ret

; free_frame: one user less for frame r1; the last one gives it back. Clobbers r2.
free_frame:
    push r3
    shr  r2, r1, 12
    ldb  r3, [r2 + frame_refs]
    sub  r3, r3, 1
    stb  r3, [r2 + frame_refs]
    bne  r3, r0, ff_shared      ; another address space still maps it (copy on write)
    ld   r2, [r0 + free_list]
    st   r2, [r1]
    st   r1, [r0 + free_list]
    ld   r2, [r0 + frames_used]
    sub  r2, r2, 1
    st   r2, [r0 + frames_used]
ff_shared:
    pop  r3
    ret

; zero_page: clear frame r1 (kept in r1). Clobbers r2-r3.
zero_page:
    mov  r2, r1
    add  r3, r1, PAGE
zp_loop:
    st   r0, [r2]
    st   r0, [r2 + 4]
    st   r0, [r2 + 8]
    st   r0, [r2 + 12]
    st   r0, [r2 + 16]
    st   r0, [r2 + 20]
    st   r0, [r2 + 24]
    st   r0, [r2 + 28]
    add  r2, r2, 32
    bltu r2, r3, zp_loop
    ret

; copy_page: copy frame r2 to frame r1. Clobbers r1-r7.
copy_page:
    add  r7, r1, PAGE
cp_loop:
    ld   r3, [r2]
    ld   r4, [r2 + 4]
    ld   r5, [r2 + 8]
    ld   r6, [r2 + 12]
    st   r3, [r1]
    st   r4, [r1 + 4]
    st   r5, [r1 + 8]
    st   r6, [r1 + 12]
    add  r1, r1, 16
    add  r2, r2, 16
    bltu r1, r7, cp_loop
    ret

; pte_addr: r1 = the address of the page-table entry for virtual address r2 in directory
; r1, or 0 if there is no page table there (made, empty, when r3 != 0; 0 if memory is
; full). Clobbers r1-r6.
pte_addr:
    shr  r4, r2, 22
    shl  r4, r4, 2
    add  r4, r4, r1             ; r4 = the directory entry's address
    ld   r5, [r4]
    and  r6, r5, PTE_P
    bne  r6, r0, pa_have
    beq  r3, r0, pa_none
    push r4
    push r2
    call alloc_zero
    pop  r2
    pop  r4
    beq  r1, r0, pa_none
    or   r5, r1, PTE_UPW
    st   r5, [r4]
pa_have:
    and  r5, r5, ~(PAGE - 1)
    shr  r6, r2, 10
    and  r6, r6, 0xffc
    add  r1, r5, r6
    ret
pa_none:
    li   r1, 0
    ret

; map_page: map frame r3 at virtual r2 in directory r1 (user, read/write). r1 = 0 if a
; page table was needed and memory is full (r3 is then still the frame). Clobbers r1-r6.
map_page:
    push r3
    li   r3, 1
    call pte_addr
    pop  r3
    beq  r1, r0, mp_done
    or   r4, r3, PTE_UPW
    st   r4, [r1]
mp_done:
    ret

; user_pte: r1 = the page-table entry of virtual r2 in directory r1, 0 if none.
; Clobbers r1-r6.
user_pte:
    li   r3, 0
    call pte_addr
    beq  r1, r0, up_done
    ld   r1, [r1]
up_done:
    ret

; stack_demand: a thread touched virtual r1 in the stack area (process r12). If that is a
; page of a stack slot other than its guard page and it is not mapped, map a zeroed frame
; there: r1 = 0. Otherwise r1 = -1 (a real fault). Clobbers r1-r7.
stack_demand:
    li   r2, STACK_BASE
    bltu r1, r2, sd_no
    li   r2, USER_TOP
    bgeu r1, r2, sd_no
    sub  r2, r1, STACK_BASE
    and  r2, r2, STACK_SLOT - 1
    li   r3, PAGE
    bltu r2, r3, sd_no          ; the guard page: a stack overflow
    and  r7, r1, ~(PAGE - 1)
    ld   r1, [r12 + P_DIR]
    mov  r2, r7
    call user_pte
    and  r1, r1, PTE_P
    bne  r1, r0, sd_no          ; mapped already: not a stack-growth fault
    call alloc_zero
    beq  r1, r0, sd_no          ; out of memory: the thread cannot grow its stack
    mov  r3, r1
    ld   r1, [r12 + P_DIR]
    mov  r2, r7
    call map_page
    beq  r1, r0, sd_nomem
    li   r1, 0
    ret
sd_nomem:
    mov  r1, r3
    call free_frame
sd_no:
    li   r1, -1
    ret

; uaccess: r1 = 0 if the r2 bytes at user address r1 may be used by process r12 (stack
; pages are mapped on the way), or E_FAULT. Clobbers r1-r7.
uaccess:
    beq  r2, r0, ua_ok
    push r8
    push r9
    add  r9, r1, r2
    sub  r9, r9, 1              ; the last byte
    bltu r9, r1, ua_bad         ; the range wraps around
    li   r3, USER_BASE
    bltu r1, r3, ua_bad
    li   r3, USER_TOP
    bgeu r9, r3, ua_bad
    and  r8, r1, ~(PAGE - 1)
    and  r9, r9, ~(PAGE - 1)
ua_loop:
    ld   r1, [r12 + P_DIR]
    mov  r2, r8
    call user_pte
    and  r1, r1, PTE_P | PTE_U
    li   r2, PTE_P | PTE_U
    beq  r1, r2, ua_next
    mov  r1, r8
    call stack_demand
    bne  r1, r0, ua_bad
ua_next:
    beq  r8, r9, ua_good
    add  r8, r8, PAGE
    jmp  ua_loop
ua_good:
    pop  r9
    pop  r8
ua_ok:
    li   r1, 0
    ret
ua_bad:
    pop  r9
    pop  r8
    li   r1, E_FAULT
    ret

; new_space: r1 = a new page directory with only the kernel in it, or 0. Clobbers r1-r3.
new_space:
    call alloc_zero
    beq  r1, r0, ns_done
    ld   r2, [r0 + kernel_pde]
    st   r2, [r1]
ns_done:
    ret

; copy_range: copy the mapped pages of virtual [r3, r4) from directory r1 into directory
; r2 (fresh frames, same addresses). r1 = 0 if memory ran out. Clobbers r1-r7.
copy_range:
    push r8
    push r9
    push r13
    push r14
    mov  r8, r1
    mov  r9, r2
    mov  r13, r3
    mov  r14, r4
cr_loop:
    bgeu r13, r14, cr_done
    mov  r1, r8
    mov  r2, r13
    call user_pte
    and  r2, r1, PTE_P
    beq  r2, r0, cr_next
    push r1
    call alloc_frame
    pop  r2
    beq  r1, r0, cr_fail
    push r1
    and  r2, r2, ~(PAGE - 1)
    call copy_page
    pop  r3
    mov  r1, r9
    mov  r2, r13
    call map_page
    bne  r1, r0, cr_next
    mov  r1, r3
    call free_frame
    jmp  cr_fail
cr_next:
    add  r13, r13, PAGE
    jmp  cr_loop
cr_done:
    li   r1, 1
    jmp  cr_out
cr_fail:
    li   r1, 0
cr_out:
    pop  r14
    pop  r13
    pop  r9
    pop  r8
    ret

; share_range: fork's copy on write. Every page mapped at virtual [r3, r4) in directory r1
; is mapped at the same address in directory r2 too, read-only and marked PTE_COW in both,
; and its frame gets one more user. r1 = 0 if a page table could not be made. The caller
; flushes TLBs (the parent's entries lost their W bit). Clobbers r1-r7.
share_range:
    push r8
    push r9
    push r13
    push r14
    mov  r8, r1
    mov  r9, r2
    mov  r13, r3
    mov  r14, r4
sr_loop:
    bgeu r13, r14, sr_done
    mov  r1, r8
    mov  r2, r13
    li   r3, 0
    call pte_addr
    beq  r1, r0, sr_next
    ld   r7, [r1]
    and  r2, r7, PTE_P
    beq  r2, r0, sr_next
    and  r7, r7, ~PTE_W
    or   r7, r7, PTE_COW
    st   r7, [r1]               ; the parent's page: read-only from now on
    push r7
    mov  r1, r9
    mov  r2, r13
    li   r3, 1
    call pte_addr
    pop  r7
    beq  r1, r0, sr_fail
    st   r7, [r1]               ; the child's: the same frame, read-only
    shr  r2, r7, 12
    ldb  r3, [r2 + frame_refs]
    add  r3, r3, 1
    stb  r3, [r2 + frame_refs]
sr_next:
    add  r13, r13, PAGE
    jmp  sr_loop
sr_done:
    li   r1, 1
    jmp  sr_out
sr_fail:
    li   r1, 0
sr_out:
    pop  r14
    pop  r13
    pop  r9
    pop  r8
    ret

; cow_fault: a write to virtual r1 of process r12 found a read-only page. If the page is
; a copy-on-write one, make it writable -- its own again if nobody else maps the frame any
; more, else a fresh copy -- and r1 = 0. r1 = -1 if it was not copy on write (a real
; fault) or memory ran out. Clobbers r1-r7.
cow_fault:
    push r8
    push r9
    ld   r2, [r12 + P_DIR]
    mov  r3, r1
    mov  r1, r2
    mov  r2, r3
    li   r3, 0
    call pte_addr
    beq  r1, r0, cf_no
    mov  r8, r1                 ; r8 = the entry's address
    ld   r9, [r8]               ; r9 = the entry
    and  r2, r9, PTE_UPW
    li   r3, PTE_UPW
    bne  r2, r3, cf_shared
    tlbflush                    ; writable already: another CPU broke the sharing, and this
    jmp  cf_yes                 ; CPU's TLB still had the read-only entry. Retry.
cf_shared:
    and  r2, r9, PTE_P | PTE_COW
    li   r3, PTE_P | PTE_COW
    bne  r2, r3, cf_no
    and  r1, r9, ~(PAGE - 1)
    shr  r2, r1, 12
    ldb  r2, [r2 + frame_refs]
    li   r3, 1
    bne  r2, r3, cf_copy
    or   r9, r9, PTE_W          ; the last user: the frame is simply ours again
    and  r9, r9, ~PTE_COW
    st   r9, [r8]
    tlbflush
    jmp  cf_yes
cf_copy:
    call alloc_frame
    beq  r1, r0, cf_no
    push r1
    and  r2, r9, ~(PAGE - 1)
    call copy_page
    pop  r3
    or   r1, r3, PTE_UPW
    st   r1, [r8]
    and  r1, r9, ~(PAGE - 1)
    call free_frame             ; one user less for the shared frame
    call shootdown              ; our other CPUs may still read the shared frame
cf_yes:
    li   r1, 0
    jmp  cf_out
cf_no:
    li   r1, -1
cf_out:
    pop  r9
    pop  r8
    ret

; cow_range: before the kernel writes into user memory [r1, r1 + r2) (already checked by
; uaccess), give the copy-on-write pages there their own frames. r1 = 0 when there were
; none; 1 when some were copied (the lock may have been let go meanwhile: the caller starts
; over, see sys_read); E_NOMEM. Clobbers r1-r7.
cow_range:
    beq  r2, r0, cw_ok
    push r8
    push r9
    push r13
    li   r13, 0                 ; pages made private
    add  r9, r1, r2
    sub  r9, r9, 1
    and  r9, r9, ~(PAGE - 1)
    and  r8, r1, ~(PAGE - 1)
cw_loop:
    ld   r1, [r12 + P_DIR]
    mov  r2, r8
    call user_pte
    and  r1, r1, PTE_COW
    beq  r1, r0, cw_next
    mov  r1, r8
    call cow_fault
    bne  r1, r0, cw_nomem
    li   r13, 1
cw_next:
    beq  r8, r9, cw_done
    add  r8, r8, PAGE
    jmp  cw_loop
cw_done:
    mov  r1, r13
    pop  r13
    pop  r9
    pop  r8
    ret
cw_ok:
    li   r1, 0
    ret
cw_nomem:
    pop  r13
    pop  r9
    pop  r8
    li   r1, E_NOMEM
    ret

; free_range: give back the frames mapped at virtual [r2, r3) in directory r1 (the
; entries are cleared). With r4 != 0 only entries made non-present by unmap_range are
; taken (a page mapped again meanwhile stays). Clobbers r1-r7.
free_range:
    push r8
    push r9
    push r13
    push r14
    mov  r8, r1
    mov  r9, r2
    mov  r13, r3
    mov  r14, r4
fr_loop:
    bgeu r9, r13, fr_done
    mov  r1, r8
    mov  r2, r9
    li   r3, 0
    call pte_addr
    beq  r1, r0, fr_next
    ld   r2, [r1]
    beq  r14, r0, fr_take
    and  r3, r2, PTE_P
    bne  r3, r0, fr_next
fr_take:
    st   r0, [r1]
    and  r1, r2, ~(PAGE - 1)    ; (an entry unmap_range made non-present keeps its frame)
    beq  r1, r0, fr_next
    call free_frame
fr_next:
    add  r9, r9, PAGE
    jmp  fr_loop
fr_done:
    pop  r14
    pop  r13
    pop  r9
    pop  r8
    ret

; unmap_range: make the pages at virtual [r2, r3) of directory r1 not present, keeping
; their frame numbers for free_range. Clobbers r1-r7.
unmap_range:
    push r8
    push r9
    push r13
    mov  r8, r1
    mov  r9, r2
    mov  r13, r3
um_loop:
    bgeu r9, r13, um_done
    mov  r1, r8
    mov  r2, r9
    li   r3, 0
    call pte_addr
    beq  r1, r0, um_next
    ld   r2, [r1]
    and  r2, r2, ~PTE_P
    st   r2, [r1]
um_next:
    add  r9, r9, PAGE
    jmp  um_loop
um_done:
    pop  r13
    pop  r9
    pop  r8
    ret

; shootdown: process r12's page tables lost some mappings (or their W bits). This CPU
; flushes its own TLB; every other CPU running a thread of r12 is asked to (C_FLUSH, and an
; IPI, which it takes before it runs another user instruction), and this CPU waits, with
; the lock let go, until each has done it or has left the address space (switching
; reloads ptbr, which empties the TLB). Only then may the frames behind the old mappings be
; reused. A request is made once and never repeated: the flag going back to 0 is the
; answer. Clobbers r1-r7.
shootdown:
    tlbflush
    push r8
    push r9
    li   r8, cpus               ; 1. ask every other CPU running a thread of r12
sd_ask:
    beq  r8, r11, sd_ask_next
    ld   r1, [r8 + C_CURRENT]
    ld   r1, [r1 + T_PROC]
    bne  r1, r12, sd_ask_next
    li   r1, 1
    st   r1, [r8 + C_FLUSH]
    ld   r1, [r8 + C_ID]
    out  0x21, r1
sd_ask_next:
    add  r8, r8, C_SIZE
    li   r1, cpus + NCPU_MAX * C_SIZE
    bltu r8, r1, sd_ask
sd_wait:                        ; 2. wait until each has flushed, or runs something else
    li   r9, 0                  ;    (a CPU that left the address space reloaded ptbr)
    li   r8, cpus
sd_check:
    beq  r8, r11, sd_check_next
    ld   r1, [r8 + C_FLUSH]
    beq  r1, r0, sd_check_next
    ld   r1, [r8 + C_CURRENT]
    ld   r1, [r1 + T_PROC]
    bne  r1, r12, sd_check_next
    add  r9, r9, 1
sd_check_next:
    add  r8, r8, C_SIZE
    li   r1, cpus + NCPU_MAX * C_SIZE
    bltu r8, r1, sd_check
    beq  r9, r0, sd_done
    call pause_unlocked
    jmp  sd_wait
sd_done:
    pop  r9
    pop  r8
    ret

; free_space: give back process r1's address space: its pages, page tables and directory.
; The caller makes sure no CPU uses it any more. Clobbers r1-r7.
free_space:
    push r8
    push r9
    mov  r9, r1
    ld   r8, [r9 + P_DIR]
    mov  r1, r8
    li   r2, USER_BASE
    ld   r3, [r9 + P_HEAPMAP]
    li   r4, 0
    call free_range
    ld   r3, [r9 + P_SLOTMAX]
    mul  r3, r3, STACK_SLOT
    add  r3, r3, STACK_BASE
    mov  r1, r8
    li   r2, STACK_BASE
    li   r4, 0
    call free_range
    li   r9, 1                  ; the page tables of directory entries 1..3
fs_tables:
    shl  r2, r9, 2
    add  r2, r2, r8
    ld   r1, [r2]
    and  r3, r1, PTE_P
    beq  r3, r0, fs_next
    and  r1, r1, ~(PAGE - 1)
    call free_frame
fs_next:
    add  r9, r9, 1
    li   r2, 4
    bltu r9, r2, fs_tables
    mov  r1, r8
    call free_frame
    pop  r9
    pop  r8
    ret
