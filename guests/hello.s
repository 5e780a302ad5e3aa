; hello.s -- the smallest complete hv program.
;
; Run it:   hv run guests/hello.s
;
; What it shows:
;   - how a program starts: the machine boots in kernel mode with paging off, every
;     register 0 except sp (the top of memory) and pc, which is set to the `.entry` label;
;   - the console: `out 0x10, rX` prints the low byte of rX;
;   - a loop over a NUL-terminated string with `ldb` and a two-register branch;
;   - how a program ends: `halt` powers the machine off with exit status 0.
;
; What to look for: there is no flags register. `beq r2, r3, done` compares two registers,
; so the loop keeps a 0 in r3 to compare each byte against.

.include "lib/hw.s"             ; the machine's numbers by name (PORT_..., CAUSE_...)
.entry start

start:
    li   r1, greeting           ; r1 walks along the string, one byte at a time
    li   r3, 0                  ; the value that ends a C string
next:
    ldb  r2, [r1]               ; r2 = the byte at address r1 (zero-extended)
    beq  r2, r3, done           ; NUL: the string is over
    out  PORT_CONSOLE_OUT, r2               ; print it
    add  r1, r1, 1
    jmp  next
done:
    halt                        ; power off, exit status 0

greeting:
    .asciz "Hello from the hv virtual machine!\n"
