; pt_edit.s -- hostile guest: edit its own live page tables through a writable mapping.
;
; Run it:   hv run guests/hostile/pt_edit.s     /     hv boot guests/hostile/pt_edit.s
;
; The attack: the kernel maps its page table and its page directory into its own address
; space, writable, uses a page so that the hypervisor builds a shadow entry for it, and then
; rewrites the entries behind the hypervisor's back: a data page is pointed past memory,
; at frame 0xfffff000, at another of its own frames, made read-only; a directory entry is
; pointed at a table past memory. After each edit it flushes (`tlbflush`, or a `mtcr ptbr`,
; which flushes too) and touches the page again.
;
; Under the hypervisor the real CPU never walks these tables: it walks shadow tables the
; guest cannot see, built from the guest's entries. The edits themselves are ordinary
; stores; what matters is that the flush throws the old shadow away and that the rebuilt
; entries are checked again, so that a stale or unchecked entry never lets the guest reach
; a frame it was not given.
;
; What must happen: exactly what the bare machine does after a flush. The page follows
; each new entry: past memory -> fault (cause 5/6, badaddr = the virtual address), another
; frame -> that frame's contents, read-only -> a write faults with cause 6. Editing without
; a flush is left out on purpose: the ISA says the CPU *may* use the old entry until then.

.equ PDIR,   0x8000
.equ PT_LOW, 0x9000             ; identity map of the 16 real pages
.equ PT_HI,  0xa000             ; 0x400000-0x7fffff, the pages played with
.equ DATA_A, 0x5000             ; holds 0x11111111
.equ DATA_B, 0x6000             ; holds 0x22222222
.equ VA_PT,   0x400000          ; -> PT_HI itself (the table maps itself, writable)
.equ VA_PAGE, 0x401000          ; the page whose entry is edited: PT_HI[1]
.equ VA_DIR,  0x402000          ; -> PDIR (the directory, writable)
.equ P, 1
.equ W, 2

.include "../lib/paging.s"

.entry boot

boot:
    li   r1, report_fault
    mtcr evec, r1
    IDENTITY_MAP PT_LOW, 16        ; the 16 pages the guest has, at their own addresses
    li   r6, PT_HI
    li   r4, PT_HI | P | W
    st   r4, [r6]               ; VA_PT   -> the table itself
    li   r4, DATA_A | P | W
    st   r4, [r6 + 4]           ; VA_PAGE -> DATA_A
    li   r4, PDIR | P | W
    st   r4, [r6 + 8]           ; VA_DIR  -> the directory
    li   r6, PDIR
    li   r4, PT_LOW | P | W
    st   r4, [r6]
    li   r4, PT_HI | P | W
    st   r4, [r6 + 4]
    li   r6, DATA_A
    li   r4, 0x11111111
    st   r4, [r6]
    li   r6, DATA_B
    li   r4, 0x22222222
    st   r4, [r6]
    PAGING_ON PDIR                 ; kernel mode, paging on

    li   r1, s_start            ; the shadow now holds VA_PAGE -> DATA_A, writable
    call puts
    call touch

    li   r1, s_past             ; PT_HI[1] -> the first frame past memory
    call puts
    li   r4, 0x10000 | P | W
    call set_entry
    tlbflush
    call touch

    li   r1, s_top              ; -> 0xfffff000
    call puts
    li   r4, 0xfffff000 | P | W
    call set_entry
    tlbflush
    call touch

    li   r1, s_other            ; -> DATA_B, another frame of its own: allowed
    call puts
    li   r4, DATA_B | P | W
    call set_entry
    tlbflush
    call touch

    li   r1, s_ro               ; -> DATA_B, read-only
    call puts
    li   r4, DATA_B | P
    call set_entry
    tlbflush
    call touch

    li   r1, s_ptbr             ; past memory again, flushed by rewriting ptbr
    call puts
    li   r4, 0x20000 | P | W
    call set_entry
    li   r1, PDIR
    mtcr ptbr, r1
    call touch

    li   r1, s_dir              ; through the directory's own mapping: PDIR[1] -> past memory
    call puts
    li   r4, DATA_A | P | W
    call set_entry               ; (the page itself is fine again...)
    li   r6, VA_DIR
    li   r4, 0x30000 | P | W
    st   r4, [r6 + 4]           ; (...but its table is not)
    tlbflush
    call touch
    li   r1, s_dir_back         ; the directory entry repaired: DATA_A again
    call puts
    li   r6, PDIR               ; VA_DIR itself lives under the broken entry: repair it
    li   r4, PT_HI | P | W      ; through the identity map (PDIR[0] was never touched)
    st   r4, [r6 + 4]
    tlbflush
    call touch

    li   r1, s_done
    call puts
    halt

; set_entry: PT_HI[1] <- r4, written through the table's own virtual mapping
set_entry:
    li   r6, VA_PT
    st   r4, [r6 + 4]
    ret

; touch: read VA_PAGE, then write 0x33333333 to it and read it back
touch:
    li   r10, touch_write
    li   r6, VA_PAGE
    ld   r1, [r6]
    call say_read
touch_write:
    li   r10, touch_done
    li   r4, 0x33333333
    st   r4, [r6 + 8]           ; a word further on, so the first word keeps its marker
    ld   r1, [r6 + 8]
    call say_read
    li   r4, 0
    st   r4, [r6 + 8]
touch_done:
    ret

say_read:
    push r1
    li   r1, s_read
    call puts
    pop  r1
    call print_hex
    call newline
    ret

.include "../lib/fault.s"          ; report_fault: print the fault, resume at r10

s_start:    .asciz "VA 0x401000 -> frame 0x5000\n"
s_past:     .asciz "entry -> frame 0x10000 (past memory), tlbflush\n"
s_top:      .asciz "entry -> frame 0xfffff000, tlbflush\n"
s_other:    .asciz "entry -> frame 0x6000, tlbflush\n"
s_ro:       .asciz "entry -> frame 0x6000 read-only, tlbflush\n"
s_ptbr:     .asciz "entry -> frame 0x20000, mtcr ptbr\n"
s_dir:      .asciz "directory entry -> table at 0x30000 (past memory), tlbflush\n"
s_dir_back: .asciz "directory entry restored, tlbflush\n"
s_read:     .asciz "  read "
s_done:     .asciz "pt_edit done\n"

.include "../lib/io.s"
