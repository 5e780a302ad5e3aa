; Paging rights (brief §2): a page's rights are the AND of its directory and table entries;
; writes need writable in kernel mode too; a table or a frame outside memory faults like a
; non-present page, badaddr = the virtual address. 64 KiB machine; identity map of it.
.equ P, 1
.equ W, 2
.equ U, 4
.equ PD, 0x8000
.equ PT0, 0x9000                ; VA 0x000000.. identity, P|W|U
.equ PT1, 0xA000                ; VA 0x400000.. (directory entry without U)
.equ PT2, 0xB000                ; VA 0x800000.. (directory entry without W)
.entry start
start:
    li   r1, handler
    mtcr evec, r1
    ; directory
    li   r2, PD
    li   r1, PT0 | P | W | U
    st   r1, [r2 + 0]
    li   r1, PT1 | P | W
    st   r1, [r2 + 4]
    li   r1, PT2 | P | U
    st   r1, [r2 + 8]
    li   r1, 0x100000 | P | W | U   ; a page table beyond the end of memory
    st   r1, [r2 + 12]
    ; PT0: 16 identity pages
    li   r3, 0
    li   r2, PT0
ident:
    or   r1, r3, P | W | U
    st   r1, [r2]
    add  r2, r2, 4
    add  r3, r3, 0x1000
    li   r4, 0x10000
    bltu r3, r4, ident
    ; PT1: 0x400000 -> 0x5000 P|W|U (but the directory lacks U); 0x401000 -> 0x5000 P|U
    ; (read-only); 0x402000 -> a frame beyond memory
    li   r2, PT1
    li   r1, 0x5000 | P | W | U
    st   r1, [r2 + 0]
    li   r1, 0x5000 | P | U
    st   r1, [r2 + 4]
    li   r1, 0x200000 | P | W | U
    st   r1, [r2 + 8]
    ; PT2: 0x800000 -> 0x5000 P|W|U (but the directory lacks W)
    li   r2, PT2
    li   r1, 0x5000 | P | W | U
    st   r1, [r2 + 0]
    li   r1, 0x5000
    li   r2, 0x12345678
    st   r2, [r1]               ; physical 0x5000 holds a marker
    li   r1, PD
    mtcr ptbr, r1
    li   r1, 1 | 4              ; KM + PG
    mtcr status, r1
    ; kernel mode, paging on
    li   r1, 0x400000           ; kernel may read a non-user page: the marker
    ld   r1, [r1]
    call putx
    call nl
    li   r12, k1
    li   r1, 0x401000
    st   r1, [r1]               ; read-only: a kernel write faults too (6)
k1: li   r12, k2
    li   r1, 0x800000
    ld   r5, [r1]               ; directory without W: reading is fine
    st   r1, [r1]               ; writing is not (6)
k2: li   r12, k3
    li   r1, 0x402000
    ld   r1, [r1]               ; a frame beyond memory: like not present (5)
k3: li   r12, k4
    li   r1, 0xC00123
    ld   r1, [r1]               ; a page table beyond memory: (5)
k4: li   r12, k5
    li   r1, 0xC00FF0
    jmp  r1                     ; fetch there: (7)
k5: ; user mode: a user page (via PT0) runs; a page without U in its directory faults
    li   r1, 1 | 4              ; PKM = 0, PIE = 0, PG = 1
    mtcr status, r1
    li   r1, user
    mtcr epc, r1
    li   r12, u1
    iret
user:
    li   r1, 0x400000
    ld   r1, [r1]               ; U in the table, not in the directory: (5)
u1: li   r12, u2
    li   r1, 0x800000           ; directory P|U, table P|W|U: user may read...
    ld   r5, [r1]
    st   r5, [r1]               ; ...not write (6)
u2: li   r1, 0xFFFFF000
    sys  9                      ; done: the handler reports the user's r5 and stops
handler:
    mfcr r1, cause
    li   r2, 1
    beq  r1, r2, finish
    call putd
    call sp_
    mfcr r1, badaddr
    call putx
    call nl
    mtcr epc, r12
    iret
finish:
    mov  r1, r5
    call putx
    call nl
    halt
.include "blib.s"
