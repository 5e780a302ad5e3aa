; flood.s -- hostile guest: floods the console, forever.
;
; Run it:   hv boot guests/hostile/flood.s guests/fib.s --max-steps 200000
;
; The attack: a kernel that prints as fast as it can and never stops, to drown the host's
; console and the other guests' output, or to make the hypervisor spend all its time on
; console exits (every `out` is a privileged instruction the hypervisor emulates).
;
; What must happen: the guest only spends its own time. The scheduler gives every guest its
; slice in turn, so a neighbour such as fib.s prints exactly what it prints alone, each of
; its lines whole (the console prefixes and never interleaves lines of different guests),
; and the flood is stopped by the instruction limit (--max-steps) with a clear message.
; On the bare machine, with the same limit, the console gets the same bytes.

.entry boot

boot:
    li   r3, 0
    li   r5, 0                  ; the line number
again:
    li   r1, msg
next:
    ldb  r2, [r1]
    beq  r2, r3, line_done
    out  0x10, r2
    add  r1, r1, 1
    jmp  next
line_done:
    add  r5, r5, 1
    mov  r1, r5
    call print_uint
    call newline
    jmp  again

msg: .asciz "FLOOD FLOOD FLOOD FLOOD FLOOD FLOOD FLOOD FLOOD FLOOD FLOOD "

.include "../lib/io.s"
