; pagetable.s -- trade-off workload: context switches and page tables. Two processes with
; their own page directories run the same user code at the same virtual addresses, each
; touching its eight private data pages and then yielding (sys 0); the kernel switches the
; address space (mtcr ptbr) on every yield.
;
; Under shadow paging every switch throws the shadow tables away and the next process
; refills them page by page (one hidden page fault, one exit, per page touched); with
; nested paging the core walks the guest's tables itself and nothing exits, but every TLB
; miss costs up to 8 memory references instead of 2.
;
; Physical map (128 KiB): 0x00000-0x07fff code, identity-mapped in both address spaces
; with the user bit; 0x08000 directory A, 0x09000 table A, 0x0a000 directory B,
; 0x0b000 table B; 0x0c000-0x13fff A's data, 0x14000-0x1bfff B's data, both seen by their
; process at virtual 0x100000-0x107fff.
.equ SWITCHES, 20000
.equ DIR_A, 0x8000
.equ TAB_A, 0x9000
.equ DIR_B, 0xa000
.equ TAB_B, 0xb000
.equ DATA_A, 0xc000
.equ DATA_B, 0x14000
.equ UDATA, 0x100000
.entry boot
boot:
    li   r1, TAB_A | 7
    li   r2, DIR_A
    st   r1, [r2]
    li   r1, TAB_B | 7
    li   r2, DIR_B
    st   r1, [r2]
    li   r3, 0                  ; code pages 0..7: identity, present, writable, user
    li   r6, 8
ident:
    shl  r4, r3, 12
    or   r4, r4, 7
    shl  r5, r3, 2
    st   r4, [r5 + TAB_A]
    st   r4, [r5 + TAB_B]
    add  r3, r3, 1
    bne  r3, r6, ident
    li   r3, 0                  ; data pages: virtual UDATA + i*4K -> each process's frames
data:
    shl  r4, r3, 12
    add  r7, r4, DATA_A
    or   r7, r7, 7
    shl  r5, r3, 2
    st   r7, [r5 + TAB_A + (UDATA >> 12) * 4]
    add  r7, r4, DATA_B
    or   r7, r7, 7
    st   r7, [r5 + TAB_B + (UDATA >> 12) * 4]
    add  r3, r3, 1
    bne  r3, r6, data
    li   r13, SWITCHES          ; the kernel's own registers: r10..r13 (user code uses r1..r5)
    li   r12, 0
    li   r1, handler
    mtcr evec, r1
    li   r1, DIR_A
    mtcr ptbr, r1
    li   r1, 5                  ; paging on, previous mode user: iret starts process A
    mtcr status, r1
    li   r1, user
    mtcr epc, r1
    iret
handler:                        ; a yield: switch to the other address space
    sub  r13, r13, 1
    beq  r13, r12, finish
    mfcr r10, ptbr
    xor  r10, r10, DIR_A ^ DIR_B
    mtcr ptbr, r10
    iret
finish:
    halt
user:                           ; both processes: touch every data page, yield, again
    li   r1, UDATA
    li   r2, UDATA + 0x8000
touch:
    ld   r3, [r1]
    add  r3, r3, 1
    st   r3, [r1]
    add  r1, r1, 0x1000
    bne  r1, r2, touch
    sys  0
    jmp  user
