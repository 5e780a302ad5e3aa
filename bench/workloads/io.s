; io.s -- trade-off workload: I/O-heavy. Prints a 32-byte line over and over, one `out`
; per byte: every mode exits to the hypervisor's device model for each byte.
.equ LINES, 3000
.entry start
start:
    li   r6, LINES
    li   r7, 0
line:
    li   r1, msg
print:
    ldb  r2, [r1]
    beq  r2, r7, next
    out  0x10, r2
    add  r1, r1, 1
    jmp  print
next:
    sub  r6, r6, 1
    bne  r6, r7, line
    halt
msg:
    .asciz "the quick brown fox jumps over\n"
