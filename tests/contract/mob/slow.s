; Prints a dot every 2^16 loop iterations, 40 times: long enough to talk to it.
.entry start
start:
    li   r3, 40
outer:
    li   r2, 0x10000
inner:
    sub  r2, r2, 1
    li   r4, 0
    bne  r2, r4, inner
    li   r1, '.'
    out  0x10, r1
    sub  r3, r3, 1
    bne  r3, r4, outer
    li   r1, 10
    out  0x10, r1
    li   r1, 4
    out  0xFF, r1
