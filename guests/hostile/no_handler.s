; no_handler.s -- hostile guest: a fault in kernel mode before any trap handler exists.
;
; Run it:   hv run guests/hostile/no_handler.s    /     hv boot guests/hostile/no_handler.s
;
; The attack: the kernel never sets `evec` (it is 0 from boot) and runs into an undefined
; opcode. Vectoring to address 0 would restart the kernel from its first instruction and
; fault again, forever, while retiring instructions: a loop that looks like progress.
;
; What must happen: a fault in kernel mode while evec is 0 shuts the machine down with the
; pc and the cause (4, illegal instruction), bare and under the hypervisor alike
; (docs/isa.md, Shutdown).

.entry boot

boot:
    li   r1, msg
    li   r3, 0
print:
    ldb  r2, [r1]
    beq  r2, r3, printed
    out  0x10, r2
    add  r1, r1, 1
    jmp  print
printed:
    .byte 0                     ; opcode 0x00 is undefined: cause 4

msg: .asciz "no evec, then an undefined opcode\n"
