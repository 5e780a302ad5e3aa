; Every CPU waits and nothing could ever wake one: the machine stops (status 125).
; CPU 1 first waits for its own timer (it wakes), then every CPU waits for good.
.entry start
start:
    mfcr r1, cpuid
    li   r2, 0
    beq  r1, r2, cpu0
    li   r1, 50
    out  0x20, r1               ; CPU 1's own timer
    wfi                         ; woken by it (IE = 0: it goes on, the interrupt pending)
    li   r1, 0
    out  0x20, r1               ; timer off
    li   r1, ack
    mtcr evec, r1
    sti                         ; take the pending timer interrupt, so nothing is pending
ack:
    cli
    li   r1, 'w'
    out  0x10, r1
cpu0:
    wfi
    wfi
