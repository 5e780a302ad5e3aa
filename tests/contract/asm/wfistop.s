; wfi with interrupts off and no timer would never wake: the machine stops (status 125).
.entry start
start:
    li   r1, 'w'
    out  0x10, r1
    wfi
    li   r1, 'X'
    out  0x10, r1
    halt
