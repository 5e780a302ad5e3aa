; evec points outside memory: the fetch at evec faults in kernel mode and would re-raise
; itself forever; the machine stops with a clear message and status 125.
.entry start
start:
    li   r1, 0x00F00000
    mtcr evec, r1
    li   r1, 'x'
    out  0x10, r1
    brk
    halt
