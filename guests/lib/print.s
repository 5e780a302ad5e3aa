; guests/lib/print.s -- printing without a stack.
;
; PRINT label
;   Write the zero-terminated string at `label` to the console, one `out` per byte, with
;   an inline loop: no call, no stack, nothing else of the program needed. For programs
;   that are about to break the machine (a bad ptbr, a handler that faults) and must not
;   rely on anything but their own code. Uses r1, r2 and r3.
;
; The macro emits the loop a program would write by hand, so using it changes no address.

.macro PRINT label
    li   r1, \label
    li   r3, 0
print_next\@:
    ldb  r2, [r1]
    beq  r2, r3, print_done\@
    out  0x10, r2                   ; PORT_CONSOLE_OUT
    add  r1, r1, 1
    jmp  print_next\@
print_done\@:
.endm
