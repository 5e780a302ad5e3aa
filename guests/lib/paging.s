; guests/lib/paging.s -- page-table building blocks for guests that turn paging on.
;
; IDENTITY_MAP table, pages
;   Fill entries 0 .. pages-1 of the page table at physical address `table` so that each
;   virtual page maps to the physical page of the same number: present, writable, kernel
;   only (PTE_PRESENT | PTE_WRITABLE, docs/isa.md). A kernel whose code and data must keep
;   their addresses once paging is on maps its memory this way. Uses r2, r3, r4 and r5.
;
; The macro emits the same instructions a program would write by hand, so including this
; file and using it changes no address in the program.

.macro IDENTITY_MAP table, pages
    li   r2, 0
    li   r3, \pages
ident_next\@:
    shl  r4, r2, 12                 ; the entry: page number << 12 ...
    or   r4, r4, 3                  ; ... | PTE_PRESENT | PTE_WRITABLE
    shl  r5, r2, 2
    st   r4, [r5 + \table]          ; table[page] (4 bytes an entry)
    add  r2, r2, 1
    blt  r2, r3, ident_next\@
.endm

; PAGING_ON dir
;   ptbr <- dir, then status <- KM | PG: paging on, still in kernel mode, interrupts off.
;   The instruction after it is fetched through the new tables, so `dir` must map the
;   code (IDENTITY_MAP does). Uses r1.

.macro PAGING_ON dir
    li   r1, \dir
    mtcr ptbr, r1
    li   r1, 0b101                  ; ST_KM | ST_PG
    mtcr status, r1
.endm
