; stale_tlb.s -- hostile guest: edit a page-table entry and do *not* flush.
;
; Run it:   hv run guests/hostile/stale_tlb.s     (prints AB)
;           hv boot guests/hostile/stale_tlb.s    (should print AB too)
;
; The attack: the kernel reads a page through VA 0x40000 (the TLB now holds it), remaps the
; entry to another frame *without* `tlbflush`, touches VA 0x0, whose virtual page number
; (0) falls in the same slot of the 64-entry direct-mapped TLB as 0x40 and so evicts the
; old translation, and reads VA 0x40000 again.
;
; What the machine defines: until the flush the CPU *may* use the old entry; both cores
; model the same 64-entry TLB, so on the bare machine the second read walks the tables
; again and sees the new frame: "AB". The brief asks for the same run bit for bit bare or
; virtualized. The hypervisor's shadow tables act as a TLB with unbounded capacity that
; only a flush empties, so under the hypervisor the old frame is still used: "AA". This is
; outside the machine's TLB contract, not an isolation hole (both frames are the guest's own):
; software must flush after editing an entry (docs/isa.md, "TLB"). The test suite keeps
; this case as an expected failure to show where the contract's boundary lies.
.equ PDIR, 0x8000
.equ PT_LOW, 0x9000
.entry boot
boot:
    li r2, 0
    li r3, 16
ident:
    shl r4, r2, 12
    or r4, r4, 3
    shl r5, r2, 2
    st r4, [r5 + PT_LOW]
    add r2, r2, 1
    blt r2, r3, ident
    li r6, PT_LOW + 0x100
    li r4, 0x5003
    st r4, [r6]              ; VA 0x40000 (vpn 0x40) -> 0x5000
    li r6, PDIR
    li r4, PT_LOW | 3
    st r4, [r6]
    li r6, 0x5000
    li r4, 'A'
    st r4, [r6]
    li r6, 0x6000
    li r4, 'B'
    st r4, [r6]
    li r1, PDIR
    mtcr ptbr, r1
    li r1, 5
    mtcr status, r1
    li r6, 0x40000
    ld r1, [r6]
    out 0x10, r1             ; A
    li r7, PT_LOW + 0x100
    li r4, 0x6003
    st r4, [r7]              ; remap, no tlbflush
    li r6, 0x0               ; vpn 0 = 0x40 mod 64: evicts vpn 0x40 from the bare TLB
    ld r2, [r6]
    li r6, 0x40000
    ld r1, [r6]
    out 0x10, r1             ; bare: B (re-walked); hv: A (shadow kept it)
    li r1, 10
    out 0x10, r1
    halt
