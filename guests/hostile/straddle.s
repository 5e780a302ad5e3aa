; straddle.s -- hostile guest: accesses that straddle a page boundary or the end of memory.
;
; Run it:   hv run guests/hostile/straddle.s    /     hv boot guests/hostile/straddle.s
;
; The attack: loads, stores and instruction fetches whose bytes lie partly in memory the
; guest owns and partly beyond it: across the end of its 64 KiB, across the 2^32 wrap of
; the address space, and (paging on) across a writable page into a read-only or
; non-present one. Checking only the first byte of an access, or only the first page, would
; let the last bytes of a word land in, or come from, whatever follows the guest's memory
; in the host: under the hypervisor, its shadow tables and the next guest.
;
; What must happen: the machine checks every byte an access touches before it touches any
; (docs/isa.md), so a straddling access that is partly outside faults as a whole (cause 5,
; 6 or 7, badaddr = the first byte that fails) and a faulting store writes nothing, not even
; its in-bounds bytes. An access that straddles two pages the guest may use succeeds, and
; with paging on an access at 0xfffffffe wraps to address 0, as addresses do. Under the
; hypervisor the shadow pages fill in silently and the results are the same.

.equ PDIR,   0x8000
.equ PT_LOW, 0x9000             ; identity map of the 16 real pages
.equ PT_HI,  0xa000             ; 0x400000: RW, RO, RW, not present
.equ PT_TOP, 0xb000             ; 0xfffff000 -> frame 0x4000
.equ P, 1
.equ W, 2
.equ LI_OPCODE, 0x02            ; `li rd, imm`: 6 bytes

.include "../lib/paging.s"

.entry boot

boot:
    li   r1, on_fault
    mtcr evec, r1
    li   sp, 0xe000             ; keep the stack away from the last bytes of memory
    li   r7, 0x5a5a5a5a         ; what the stores try to write
    li   r6, 0xfffc
    li   r4, 0xddccbbaa         ; a known word in the last 4 bytes of memory
    st   r4, [r6]

    li   r1, s_phys
    call puts
    li   r1, s_ld_end
    call puts
    li   r10, s1
    li   r6, 0xfffe
    ld   r1, [r6]               ; 0xfffe..0x10001: two bytes outside
    call say_read
s1: li   r1, s_ldh_end
    call puts
    li   r10, s2
    li   r6, 0xffff
    ldh  r1, [r6]
    call say_read
s2: li   r1, s_st_end
    call puts
    li   r10, s3
    li   r6, 0xfffd
    st   r7, [r6]               ; three bytes inside, one outside: writes nothing
s3: li   r1, s_sth_end
    call puts
    li   r10, s4
    li   r6, 0xffff
    sth  r7, [r6]
s4: call last_word              ; still 0xddccbbaa
    li   r1, s_ld_wrap
    call puts
    li   r10, s5
    li   r6, 0xfffffffe
    ld   r1, [r6]               ; 0xfffffffe, 0xffffffff, 0, 1: wraps, and starts outside
    call say_read
s5: li   r1, s_st_wrap
    call puts
    li   r10, s6
    li   r6, 0xffffffff
    st   r7, [r6]               ; would write bytes 0..2, the start of this program
s6: call first_word
    li   r1, s_fetch_end
    call puts
    li   r6, 0xfffc
    li   r4, LI_OPCODE
    stb  r4, [r6]               ; a `li` at 0xfffc: its last two bytes are outside
    li   r10, s7
    jmp  r6
s7: li   r1, s_fetch_wrap
    call puts
    li   r10, s8
    li   r6, 0xfffffffe
    jmp  r6

s8: ; --- paging on ------------------------------------------------------------------------
    IDENTITY_MAP PT_LOW, 16        ; the 16 pages the guest has, at their own addresses
    li   r6, PT_HI
    li   r4, 0x5000 | P | W
    st   r4, [r6]               ; 0x400000 -> 0x5000, writable
    li   r4, 0x6000 | P
    st   r4, [r6 + 4]           ; 0x401000 -> 0x6000, read-only
    li   r4, 0x7000 | P | W
    st   r4, [r6 + 8]           ; 0x402000 -> 0x7000, writable; 0x403000 not present
    li   r6, PT_TOP
    li   r4, 0x4000 | P | W
    st   r4, [r6 + 4092]        ; 0xfffff000 -> 0x4000
    li   r6, PDIR
    li   r4, PT_LOW | P | W
    st   r4, [r6]
    li   r4, PT_HI | P | W
    st   r4, [r6 + 4]
    li   r4, PT_TOP | P | W
    st   r4, [r6 + 4092]
    li   r6, 0x5ffc             ; known bytes at the end of frame 0x5000...
    li   r4, 0x44332211
    st   r4, [r6]
    li   r6, 0x6000             ; ...and at the start of frame 0x6000
    li   r4, 0x88776655
    st   r4, [r6]
    li   r6, 0x4ffc             ; the last word of the page at 0xfffff000
    li   r4, 0xccbbaa99
    st   r4, [r6]
    PAGING_ON PDIR                 ; kernel mode, paging on

    li   r1, s_paging
    call puts
    li   r1, s_ld_rw_ro
    call puts
    li   r10, p1
    li   r6, 0x400ffe
    ld   r1, [r6]               ; two pages, both readable: bytes 33 44 | 55 66
    call say_read
p1: li   r1, s_st_rw_ro
    call puts
    li   r10, p2
    li   r6, 0x400ffe
    st   r7, [r6]               ; the second page is read-only: writes nothing
p2: li   r10, p3
    li   r6, 0x400ffc
    ld   r1, [r6]               ; still 0x44332211
    call say_read
p3: li   r1, s_ld_np
    call puts
    li   r10, p4
    li   r6, 0x402ffe
    ld   r1, [r6]               ; into the non-present page
    call say_read
p4: li   r1, s_st_np
    call puts
    li   r10, p5
    li   r6, 0x402fff
    st   r7, [r6]
p5: li   r1, s_fetch_np
    call puts
    li   r6, 0x7ffc
    li   r4, LI_OPCODE
    stb  r4, [r6]               ; a `li` at 0x402ffc, running into the non-present page
    li   r10, p6
    li   r6, 0x402ffc
    jmp  r6
p6: li   r1, s_ld_wrap_pg
    call puts
    li   r10, p7
    li   r6, 0xfffffffe
    ld   r1, [r6]               ; 0xfffffffe..1: frame 0x4000's last bytes, then address 0
    call say_read
p7: li   r1, s_done
    call puts
    halt

say_read:
    push r1
    li   r1, s_read
    call puts
    pop  r1
    call print_hex
    call newline
    ret

last_word:
    push r1
    li   r1, s_last
    call puts
    li   r1, 0xfffc
    ld   r1, [r1]
    call print_hex
    call newline
    pop  r1
    ret

first_word:
    push r1
    li   r1, s_first
    call puts
    li   r1, 0
    ld   r1, [r1]
    call print_hex
    call newline
    pop  r1
    ret

on_fault:
    push r1
    li   r1, s_fault
    call puts
    mfcr r1, cause
    call print_uint
    li   r1, s_badaddr
    call puts
    mfcr r1, badaddr
    call print_hex
    li   r1, s_epc
    call puts
    mfcr r1, epc
    call print_hex
    call newline
    pop  r1
    mtcr epc, r10
    iret

s_phys:      .asciz "paging off, 64 KiB of memory\n"
s_ld_end:    .asciz "ld [0xfffe]\n"
s_ldh_end:   .asciz "ldh [0xffff]\n"
s_st_end:    .asciz "st [0xfffd]\n"
s_sth_end:   .asciz "sth [0xffff]\n"
s_ld_wrap:   .asciz "ld [0xfffffffe]\n"
s_st_wrap:   .asciz "st [0xffffffff]\n"
s_fetch_end: .asciz "fetch a 6-byte li at 0xfffc\n"
s_fetch_wrap: .asciz "jmp 0xfffffffe\n"
s_paging:    .asciz "paging on: 0x400000 rw, 0x401000 ro, 0x402000 rw, 0x403000 absent\n"
s_ld_rw_ro:  .asciz "ld [0x400ffe]\n"
s_st_rw_ro:  .asciz "st [0x400ffe]\n"
s_ld_np:     .asciz "ld [0x402ffe]\n"
s_st_np:     .asciz "st [0x402fff]\n"
s_fetch_np:  .asciz "fetch a 6-byte li at 0x402ffc\n"
s_ld_wrap_pg: .asciz "ld [0xfffffffe] with 0xfffff000 mapped\n"
s_read:      .asciz "  read "
s_last:      .asciz "  the last word of memory: "
s_first:     .asciz "  the first word of memory: "
s_fault:     .asciz "  fault: cause "
s_badaddr:   .asciz " badaddr "
s_epc:       .asciz " epc "
s_done:      .asciz "straddle done\n"

.include "../lib/io.s"
