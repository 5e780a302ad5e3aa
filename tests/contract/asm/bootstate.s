; The boot state: every register and control register 0 except sp (top of memory) and pc
; (the entry, here not at the origin); memory outside the image reads 0; status's other
; bits read as 0; accesses beyond memory fault like non-present pages, paging off.
.org 0x100
.entry start
start:
    ; r0..r14 must all be 0: or them together before touching anything
    or   r0, r0, r1
    or   r0, r0, r2
    or   r0, r0, r3
    or   r0, r0, r4
    or   r0, r0, r5
    or   r0, r0, r6
    or   r0, r0, r7
    or   r0, r0, r8
    or   r0, r0, r9
    or   r0, r0, r10
    or   r0, r0, r11
    or   r0, r0, r12
    or   r0, r0, r13
    or   r0, r0, r14
    mov  r13, sp
    mfcr r1, evec
    or   r0, r0, r1
    mfcr r1, epc
    or   r0, r0, r1
    mfcr r1, cause
    or   r0, r0, r1
    mfcr r1, badaddr
    or   r0, r0, r1
    mfcr r1, ptbr
    or   r0, r0, r1
    mfcr r1, scratch
    or   r0, r0, r1
    mfcr r12, status
    mov  r1, r0
    call putd                   ; 0
    call sp_
    mov  r1, r12                ; KM only: 1
    call putd
    call sp_
    mov  r1, r13                ; sp = top of memory (--mem 128K)
    call putx
    call sp_
    li   r1, 0x1F000            ; outside the image: 0
    ld   r1, [r1]
    call putd
    call sp_
    ld   r1, [r0 + 0]           ; below the origin: 0
    call putd
    call nl
    li   r1, 0xFFFFFFE1         ; KM + bits that do not exist (PG, IE left 0)
    mtcr status, r1
    mfcr r1, status
    call putd                   ; 1
    call nl
    li   r1, handler
    mtcr evec, r1
    li   r5, 0x20000            ; the first byte past memory
    ld   r1, [r5]               ; cause 5
at_st:
    st   r1, [r5 + 4]           ; cause 6
after_st:
    li   r5, 0x7FFFFFF0
    jmp  r5                     ; cause 7
handler:
    mfcr r1, cause
    call putd
    call sp_
    mfcr r1, badaddr
    call putx
    call nl
    mfcr r1, cause
    li   r2, 7
    beq  r1, r2, done
    li   r2, 5                  ; resume after the faulting load or store
    mfcr r3, cause
    beq  r3, r2, after_ld
    li   r1, after_st
    mtcr epc, r1
    iret
after_ld:
    li   r1, at_st
    mtcr epc, r1
    iret
done:
    halt
.include "blib.s"
