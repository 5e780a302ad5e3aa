; At most one IPI pending per CPU; a CPU may send one to itself, with one CPU too.
; Upper-case names for the §11 control registers and xchg.
.entry start
start:
    li   r1, handler
    MTCR EVEC, r1
    li   r9, 0                  ; deliveries
    MFCR r2, CPUID
    OUT  0x21, r2               ; to myself, twice: still one pending
    out  0x21, r2
    sti
    nop
    nop
    nop
    cli
    add  r1, r9, '0'
    out  0x10, r1               ; "1"
    li   r3, cell
    li   r4, 'k'
    XCHG r4, [r3]
    out  0x10, r4               ; "o"
    ld   r4, [r3]
    out  0x10, r4               ; "k"
    li   r1, 10
    out  0x10, r1
    halt
handler:
    add  r9, r9, 1
    mfcr r1, cause
    add  r1, r1, 'A' - 18       ; cause 18 -> "A"
    out  0x10, r1
    mfcr r1, badaddr
    add  r1, r1, '0'            ; the sender: CPU 0
    out  0x10, r1
    iret
cell: .word 'o'
