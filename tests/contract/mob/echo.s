; Echoes its console input in brackets, then powers off with the number of bytes read.
.entry start
start:
    li   r3, 0
    li   r1, '['
    out  0x10, r1
again:
    in   r1, 0x11
    li   r2, -1
    beq  r1, r2, done
    out  0x10, r1
    add  r3, r3, 1
    jmp  again
done:
    li   r1, ']'
    out  0x10, r1
    out  0xFF, r3
