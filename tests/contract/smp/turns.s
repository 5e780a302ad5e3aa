; Turn order (brief §11): CPUs 0..N-1 take turns of Q instruction slots. Run with --cpus 3
; --quantum 4: each CPU prints its digit four times, two per turn: "001122001122".
.entry start
start:
    mfcr r1, cpuid              ; 1
    add  r1, r1, '0'            ; 2
    out  0x10, r1               ; 3
    out  0x10, r1               ; 4  (end of the first turn)
    out  0x10, r1               ; 5
    out  0x10, r1               ; 6
    mfcr r3, cpuid
    li   r2, 0
    beq  r3, r2, cpu0
    li   r4, 1                  ; the others: done[cpuid] = 1, then wait forever
    shl  r3, r3, 2
    st   r4, [r3 + done]
    wfi
cpu0:
    ld   r4, [r2 + done + 4]
    ld   r5, [r2 + done + 8]
    and  r4, r4, r5
    beq  r4, r2, cpu0
    li   r1, 10
    out  0x10, r1
    halt                        ; powers off every CPU
done: .word 0, 0, 0
