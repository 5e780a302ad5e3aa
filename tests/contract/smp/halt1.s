; halt or out 0xFF on any CPU powers the whole machine off. Run with --cpus 3.
.entry start
start:
    mfcr r1, cpuid
    li   r2, 2
    beq  r1, r2, cpu2
spin:
    jmp  spin                   ; CPUs 0 and 1 spin for ever
cpu2:
    li   r1, 'h'
    out  0x10, r1
    li   r1, 9
    out  0xFF, r1               ; status 9
