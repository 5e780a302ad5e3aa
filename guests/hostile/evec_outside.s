; evec_outside.s -- hostile guest: a trap vector outside memory.
;
; Run it:   hv run guests/hostile/evec_outside.s    /     hv boot guests/hostile/evec_outside.s
;
; The attack: the kernel points `evec` past the end of its memory (0x100000 in a 64 KiB
; machine) and traps (`brk`). A hypervisor that reflects the trap by jumping to evec
; without care might run whatever lies at that address of the host, or loop forever
; reflecting the fetch fault to the same bad vector.
;
; What must happen: the trap is delivered, and fetching the first instruction at evec
; faults (cause 7). A fault raised by the instruction at evec itself could only repeat
; forever, so the machine shuts down ("double fault", the machine's triple fault) and
; reports the pc and the cause (docs/isa.md, Shutdown). The hypervisor stops this guest
; alone with the same message; the others run on.

.include "../lib/print.s"

.entry boot

boot:
    PRINT msg
    li   r1, 0x100000
    mtcr evec, r1
    brk                         ; -> evec 0x100000 -> fetch fault at evec: shutdown
    li   r1, oops
    halt                        ; never reached

msg:  .asciz "evec = 0x100000, then brk\n"
oops: .asciz "not reached\n"
