; bad_ptbr.s -- hostile guest: paging on with ptbr outside memory.
;
; Run it:   hv run guests/hostile/bad_ptbr.s    /     hv boot guests/hostile/bad_ptbr.s
;
; The attack: the kernel points `ptbr` at 0xfffff000, far outside its memory, and turns
; paging on. Every walk now starts by reading a page directory the guest does not have;
; under the hypervisor, a walk that read host memory at that address (or at the guest's
; frame base plus it) would let the guest choose its page tables from anyone's memory.
;
; What must happen: a walk that reaches a physical address outside memory faults like a
; non-present page. The next instruction fetch faults (cause 7), and so does the fetch at
; evec, which is also translated through the same tables: the machine shuts down ("double
; fault") with the pc and the cause, bare and under the hypervisor alike.

.include "../lib/print.s"

.entry boot

boot:
    li   r1, handler
    mtcr evec, r1
    PRINT msg
    li   r1, 0xfffff000
    mtcr ptbr, r1
    li   r1, 0b101              ; KM | PG
    mtcr status, r1
    halt                        ; never fetched

handler:
    halt

msg: .asciz "ptbr = 0xfffff000, paging on\n"
