; syscall.s -- trade-off workload: syscall-heavy. A user program makes a system call every
; few instructions; the kernel's handler reads the cause and returns with iret.
; Under trap-and-emulate every `sys` is reflected by the hypervisor and the handler's
; mfcr and iret are emulated (three exits per call); with a guest mode none of them exits.
.equ CALLS, 100000
.entry boot
boot:
    li   r1, handler
    mtcr evec, r1
    li   r1, 1                  ; previous mode user, previous IE off: iret enters user mode
    mtcr status, r1
    li   r1, user
    mtcr epc, r1
    iret
handler:
    mfcr r9, cause
    li   r8, 1
    bne  r9, r8, done           ; anything but a syscall (the final brk) ends the run
    iret
done:
    halt
user:
    li   r2, CALLS
    li   r3, 0
uloop:
    add  r4, r4, r2
    sys  1
    sub  r2, r2, 1
    bne  r2, r3, uloop
    brk
