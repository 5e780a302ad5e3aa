; compute.s -- trade-off workload: compute-bound. A counted loop of ALU work, no privileged
; instruction after the first few: every mode should run it at the bare core's speed.
.equ ROUNDS, 5000000
.entry start
start:
    li   r2, ROUNDS
    li   r3, 0
    li   r4, 0
loop:
    add  r4, r4, r2
    xor  r4, r4, 0x5a5a
    sub  r2, r2, 1
    bne  r2, r3, loop
    halt
