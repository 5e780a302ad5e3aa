; Paging: two-level page tables, present/writable/user bits, page faults on read, write
; and fetch with badaddr, an access that straddles two pages, tlbflush after a remap, and
; the fault for an address outside physical memory.
;
; Memory (64K): the program from 0, page directory at 0xC000, one page table at 0xD000
; (covering virtual 0..4M), data frames 0xA000, 0xB000 and 0xE000, the stack below 0x10000.
; Virtual pages 0..15 map to themselves (present, writable, user); the test adds:
;   0x20000 -> frame 0xE000  present, writable, kernel only
;   0x21000 -> frame 0xE000  present, read-only, user
;   0x22000    not present
;   0x23000 -> frame 0xA000  present, writable, kernel only
.entry main
.include "../../lib/tap.s"
.include "../lib/catch.s"

.equ PD, 0xC000
.equ PT, 0xD000
.equ P, 1
.equ W, 2
.equ U, 4
.equ PG, 4
.equ KM, 1

; PTE vaddr, value: set the table entry of virtual page `vaddr` (r12 must be 0)
.macro PTE vaddr, value
    push r1
    li   r1, \value
    st   r1, [r12 + PT + (\vaddr >> 12) * 4]
    pop  r1
.endm

main:
    call catch_init
    PLAN 25
    li   r12, 0

    ; paging off: an address past the end of memory faults like a missing page
    CATCH_AT off_next
    ld   r1, [r12 + 0x30000]
off_next:
    LOADW r1, catch_cause
    CHECK_EQ r1, 5, "paging off: a read past memory is a read fault"
    LOADW r1, catch_badaddr
    CHECK_EQ r1, 0x30000, "with badaddr = the address"

    ; build the tables
    li   r1, PT | P | W | U
    st   r1, [r12 + PD]
    li   r3, 0
    li   r4, 16
ident:
    shl  r2, r3, 12
    or   r2, r2, P | W | U
    shl  r5, r3, 2
    st   r2, [r5 + PT]
    add  r3, r3, 1
    bne  r3, r4, ident
    PTE  0x20000, 0xE000 | P | W
    PTE  0x21000, 0xE000 | P | U
    PTE  0x23000, 0xA000 | P | W
    li   r1, 0x55555555
    st   r1, [r12 + 0xE000]
    st   r1, [r12 + 0xEFFC]

    li   r1, PD
    mtcr ptbr, r1
    mfcr r1, status
    or   r1, r1, PG
    mtcr status, r1
    mfcr r1, status
    and  r1, r1, KM | PG                ; (PKM is left from the last trap)
    CHECK_EQ r1, KM | PG, "paging on; the identity-mapped code runs on"
    mfcr r1, ptbr
    CHECK_EQ r1, PD, "ptbr reads back"

    li   r1, 0x12345678
    st   r1, [r12 + 0x20010]
    ld   r2, [r12 + 0xE010]
    CHECK_EQ r2, 0x12345678, "a write through 0x20000 lands in frame 0xE000"
    ld   r2, [r12 + 0x21010]
    CHECK_EQ r2, 0x12345678, "a second virtual page maps the same frame"

    LOADW r5, catch_count
    CATCH_AT ro_next
ro_at:
    st   r1, [r12 + 0x21020]
ro_next:
    LOADW r1, catch_cause
    CHECK_EQ r1, 6, "a write to a read-only page: cause 6, even in kernel mode"
    LOADW r1, catch_badaddr
    CHECK_EQ r1, 0x21020, "badaddr is the virtual address"
    LOADW r1, catch_epc
    CHECK_EQ r1, ro_at, "epc is the faulting store"

    li   r1, 0xaabbccdd
    CATCH_AT straddle_next
    st   r1, [r12 + 0x20ffe]
straddle_next:
    LOADW r2, catch_badaddr
    CHECK_EQ r2, 0x21000, "a store straddling into a read-only page faults at its first byte"
    ld   r2, [r12 + 0xEFFC]
    CHECK_EQ r2, 0x55555555, "and writes nothing, not even the bytes in the writable page"

    CATCH_AT np_next
    ld   r2, [r12 + 0x22004]
np_next:
    LOADW r1, catch_cause
    CHECK_EQ r1, 5, "a read from a missing page: cause 5"
    LOADW r1, catch_badaddr
    CHECK_EQ r1, 0x22004, "badaddr of the read"

    CATCH_AT fetch_next
    jmp  0x22000
fetch_next:
    LOADW r1, catch_cause
    CHECK_EQ r1, 7, "a jump into a missing page: fetch fault, cause 7"
    LOADW r1, catch_epc
    CHECK_EQ r1, 0x22000, "epc is the address that could not be fetched"
    LOADW r1, catch_badaddr
    CHECK_EQ r1, 0x22000, "so is badaddr"
    LOADW r6, catch_count
    sub  r6, r6, r5
    CHECK_EQ r6, 4, "four faults so far"

    ; remap 0x20000 to frame 0xB000; after tlbflush the new mapping is used
    li   r1, 0xb0b0b0b0
    st   r1, [r12 + 0xB010]
    PTE  0x20000, 0xB000 | P | W
    tlbflush
    ld   r2, [r12 + 0x20010]
    CHECK_EQ r2, 0xb0b0b0b0, "after a remap and tlbflush, the new frame"

    ; kernel-only page: kernel mode reads it
    li   r1, 777
    st   r1, [r12 + 0xA000]
    ld   r2, [r12 + 0x23000]
    CHECK_EQ r2, 777, "kernel mode reads a kernel-only page"

    ; user mode: reads user pages, faults on kernel-only ones
    li   r1, KM | PG                   ; PKM = 0: iret enters user mode, paging stays on
    mtcr status, r1
    li   r1, user
    mtcr epc, r1
    iret
back:
    LOADW r1, user_read
    CHECK_EQ r1, 0x12345678, "user mode reads a user page"
    LOADW r1, user_cause
    CHECK_EQ r1, 5, "user mode reading a kernel-only page: cause 5"
    LOADW r1, user_badaddr
    CHECK_EQ r1, 0x23000, "badaddr of the kernel-only page"
    LOADW r1, user_wcause
    CHECK_EQ r1, 6, "user mode writing a read-only page: cause 6"
    mfcr r1, status
    and  r1, r1, KM | PG
    CHECK_EQ r1, KM | PG, "back in kernel mode with paging on"

    mfcr r1, status
    and  r1, r1, ~PG
    mtcr status, r1
    ld   r2, [r12 + 0xB010]
    CHECK_EQ r2, 0xb0b0b0b0, "paging off again: physical addresses"
    DONE

user:
    ld   r1, [r12 + 0x21010]
    li   r2, user_read
    st   r1, [r2]
    CATCH_AT user_k_next
    ld   r1, [r12 + 0x23000]
user_k_next:
    LOADW r1, catch_cause
    li   r2, user_cause
    st   r1, [r2]
    LOADW r1, catch_badaddr
    li   r2, user_badaddr
    st   r1, [r2]
    CATCH_AT user_w_next
    st   r1, [r12 + 0x21000]
user_w_next:
    LOADW r1, catch_cause
    li   r2, user_wcause
    st   r1, [r2]
    CATCH_IN_KERNEL back
    sys  0

user_read:    .word 0
user_cause:   .word 0
user_badaddr: .word 0
user_wcause:  .word 0
