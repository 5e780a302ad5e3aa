; guests/tests/lib/catch.s -- a trap handler for guest tests that trap on purpose.
;
; `call catch_init` points evec at catch_handler. Every trap then records, in memory,
;   catch_cause, catch_epc, catch_badaddr, catch_status   the control registers at the trap
;   catch_count                                           traps taken so far
; and returns with iret. A fault re-executes the faulting instruction, so before one a test
; says where to go on with `CATCH_AT label` (used once: the handler clears it). With
; `CATCH_IN_KERNEL label` the trap also returns to kernel mode (the end of a user-mode test).
; A timer interrupt turns the timer off, so that it is taken once.
;
; The handler runs on whatever stack the trapping code had (pushing two words), so a
; user-mode test needs a valid sp. Include it after guests/lib/tap.s (it uses no macro of it).

.macro CATCH_AT label
    push r1
    push r2
    li   r2, catch_resume
    li   r1, \label
    st   r1, [r2]
    pop  r2
    pop  r1
.endm

.macro CATCH_IN_KERNEL label
    CATCH_AT \label
    push r1
    push r2
    li   r2, catch_kernel
    li   r1, 1
    st   r1, [r2]
    pop  r2
    pop  r1
.endm

; LOADW reg, label: reg = the word at label
.macro LOADW reg, label
    li   \reg, \label
    ld   \reg, [\reg]
.endm

catch_init:
    push r1
    li   r1, catch_handler
    mtcr evec, r1
    li   r1, 0
    push r2
    li   r2, catch_count
    st   r1, [r2]
    pop  r2
    pop  r1
    ret

catch_handler:
    push r1
    push r2
    li   r2, catch_cause
    mfcr r1, cause
    st   r1, [r2]
    mfcr r1, epc
    st   r1, [r2 + 4]
    mfcr r1, badaddr
    st   r1, [r2 + 8]
    mfcr r1, status
    st   r1, [r2 + 12]
    ld   r1, [r2 + 16]
    add  r1, r1, 1
    st   r1, [r2 + 16]              ; catch_count
    ld   r1, [r2]
    li   r2, 16
    bne  r1, r2, catch_not_timer
    li   r1, 0
    out  0x20, r1                   ; the timer: once is enough
catch_not_timer:
    li   r2, catch_cause
    ld   r1, [r2 + 20]              ; catch_resume
    li   r2, 0
    beq  r1, r2, catch_return
    mtcr epc, r1
    li   r2, catch_resume
    li   r1, 0
    st   r1, [r2]
    ld   r1, [r2 + 4]               ; catch_kernel
    li   r2, 0
    beq  r1, r2, catch_return
    mfcr r1, status
    or   r1, r1, 8                  ; PKM: iret goes back to kernel mode
    mtcr status, r1
    li   r2, catch_kernel
    li   r1, 0
    st   r1, [r2]
catch_return:
    pop  r2
    pop  r1
    iret

catch_cause:    .word 0             ; + 0
catch_epc:      .word 0             ; + 4
catch_badaddr:  .word 0             ; + 8
catch_status:   .word 0             ; + 12
catch_count:    .word 0             ; + 16
catch_resume:   .word 0             ; + 20
catch_kernel:   .word 0             ; + 24
