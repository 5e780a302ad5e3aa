; guests/lib/io.s -- console printing for programs that run in kernel mode.
;
; The console is port 0x10 (PORT_CONSOLE_OUT in hw.s): `out PORT_CONSOLE_OUT, rX` prints
; the low byte of rX. These helpers build
; strings and numbers on top of that one instruction. They use `out`, a privileged
; instruction, so they only work in kernel mode (a bare-machine program, or a kernel).
; A user program must ask its kernel to print (see guests/kernel/user.s).
;
; Calling convention (used by every guest in this directory):
;   - arguments in r1, r2, ...; a result, if any, in r1
;   - call with `call NAME`, which pushes the return address; the helper returns with `ret`
;   - these helpers PRESERVE EVERY REGISTER: each one pushes the registers it uses and pops
;     them before returning. That costs a few instructions, but a caller never has to wonder
;     what a print statement destroyed.
;   - they need about 64 bytes of stack (print_uint pushes one word per digit).
;
; Routines:
;   putc        print the character in r1
;   puts        print the NUL-terminated string at address r1
;   newline     print "\n"
;   space       print " "
;   print_uint  print r1 as an unsigned decimal number       (4294967295)
;   print_int   print r1 as a signed decimal number          (-1)
;   print_hex   print r1 as "0x" and 8 hexadecimal digits    (0x0000ff00)
;
; Local labels start with `io_`: `.include` pastes this file into the including program,
; and all labels share one name space.

.include "hw.s"                 ; port names; including it twice is harmless

putc:
    out  PORT_CONSOLE_OUT, r1
    ret

newline:
    push r1
    li   r1, '\n'
    out  PORT_CONSOLE_OUT, r1
    pop  r1
    ret

space:
    push r1
    li   r1, ' '
    out  PORT_CONSOLE_OUT, r1
    pop  r1
    ret

puts:
    push r1
    push r2
    push r3
    li   r3, 0                  ; no zero register: keep a 0 at hand for the comparison
io_puts_loop:
    ldb  r2, [r1]               ; ldb zero-extends: r2 = the byte at r1
    beq  r2, r3, io_puts_done   ; the NUL byte ends the string
    out  PORT_CONSOLE_OUT, r2
    add  r1, r1, 1
    jmp  io_puts_loop
io_puts_done:
    pop  r3
    pop  r2
    pop  r1
    ret

; Decimal digits come out of `remu` least significant first, but must be printed most
; significant first. The stack reverses them for free: push while dividing, pop while
; printing.
print_uint:
    push r1
    push r2
    push r3
    push r4
    li   r3, 0                  ; number of digits pushed
    li   r4, 0
io_pu_split:
    remu r2, r1, 10             ; the lowest digit...
    add  r2, r2, '0'            ; ...as an ASCII character
    push r2
    add  r3, r3, 1
    divu r1, r1, 10             ; unsigned: 0xffffffff is 4294967295, not -1
    bne  r1, r4, io_pu_split    ; a do-while loop, so that 0 prints as "0"
io_pu_emit:
    pop  r2
    out  PORT_CONSOLE_OUT, r2
    sub  r3, r3, 1
    bne  r3, r4, io_pu_emit
    pop  r4
    pop  r3
    pop  r2
    pop  r1
    ret

print_int:
    push r1
    push r2
    li   r2, 0
    bge  r1, r2, io_pi_positive ; bge compares as signed numbers
    li   r2, '-'
    out  PORT_CONSOLE_OUT, r2
    li   r2, 0
    sub  r1, r2, r1             ; 0 - r1; INT_MIN stays INT_MIN, which print_uint shows right
io_pi_positive:
    call print_uint
    pop  r2
    pop  r1
    ret

print_hex:
    push r1
    push r2
    push r3
    push r4
    mov  r3, r1
    li   r1, '0'
    out  PORT_CONSOLE_OUT, r1
    li   r1, 'x'
    out  PORT_CONSOLE_OUT, r1
    li   r4, 28                 ; shift of the top nibble; 28, 24, ..., 0
io_ph_loop:
    shr  r1, r3, r4             ; shr is logical: no sign bits come in from the left
    and  r1, r1, 0xf
    ldb  r1, [r1 + io_hex_digits]   ; look the nibble up in a 16-byte table
    out  PORT_CONSOLE_OUT, r1
    sub  r4, r4, 4
    li   r2, 0
    bge  r4, r2, io_ph_loop
    pop  r4
    pop  r3
    pop  r2
    pop  r1
    ret

io_hex_digits:
    .ascii "0123456789abcdef"
