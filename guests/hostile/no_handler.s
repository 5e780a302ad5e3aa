; no_handler.s -- hostile guest: a fault in kernel mode before any trap handler exists.
;
; Run it:   hv run guests/hostile/no_handler.s    /     hv boot guests/hostile/no_handler.s
;
; The attack: the kernel never sets `evec` (it is 0 from boot) and runs into an undefined
; opcode. Every trap goes to `evec`, 0 included, so the fault enters "the handler" at
; address 0. A kernel whose first instruction sat at 0 would simply start over (that is
; what it asked for); this one keeps a zero word at 0, which is an undefined opcode too.
;
; What must happen: the fault at 0 is raised in kernel mode by the instruction at `evec`
; itself, the one fault that could only repeat forever: the machine shuts down with the pc
; and the cause (4, illegal instruction), bare and under the hypervisor alike
; (docs/isa.md, Shutdown).

.include "../lib/print.s"

.entry boot

vector0:
    .word 0                     ; at address 0 = evec: opcode 0x00 is undefined

boot:
    PRINT msg
    .byte 0                     ; opcode 0x00 is undefined: cause 4

msg: .asciz "no evec, then an undefined opcode\n"
