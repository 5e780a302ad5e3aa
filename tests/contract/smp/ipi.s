; IPIs (brief §11): to itself, to another CPU, to a CPU that does not exist; cause 18 with
; badaddr = the sender; the lowest pending cause first (timer 16 before IPI 18).
; Run with --cpus 2 (any quantum).
.entry start
start:
    mfcr r1, cpuid
    li   r2, 0
    bne  r1, r2, cpu1
    li   sp, 0x8000             ; CPU 0's stack (CPU 1 keeps the top of memory)
    li   r1, handler
    mtcr evec, r1
    li   r10, log               ; the handler appends cause, badaddr to the log
    li   r1, 5
    out  0x20, r1               ; timer due after 5 more instructions
    nop                         ; 1
    nop                         ; 2
    nop                         ; 3
    nop                         ; 4
    nop                         ; 5: timer pending
    li   r1, 0
    out  0x21, r1               ; IPI to myself: pending too
    li   r1, 7
    out  0x21, r1               ; no CPU 7: ignored
    sti                         ; now 16, then 18
    nop
    nop
    cli
    ; print the log: "16 0 18 0 "
    li   r11, log
print_log:
    beq  r11, r10, logged
    ld   r1, [r11]
    call putd
    li   r1, ' '
    call putc
    add  r11, r11, 4
    jmp  print_log
logged:
    call nl
    ; now wake CPU 1 with an IPI: its handler prints "cpu1 18 0" and powers off
    li   r1, 1
    out  0x21, r1
spin0:
    jmp  spin0

handler:
    mfcr r2, cause
    li   r3, 16
    bne  r2, r3, not_timer
    li   r3, 0
    out  0x20, r3               ; the timer off (its interrupt was just delivered)
not_timer:
    st   r2, [r10]
    mfcr r2, badaddr
    st   r2, [r10 + 4]
    add  r10, r10, 8
    iret

cpu1:
    li   r1, handler1
    mtcr evec, r1
    sti
wait1:
    wfi
    jmp  wait1
handler1:
    li   r1, s_cpu1
    call puts
    mfcr r1, cause
    call putd
    call sp_
    mfcr r1, badaddr
    call putd
    call nl
    li   r1, 0
    out  0xFF, r1               ; power off from CPU 1: the whole machine, status 0

s_cpu1: .asciz "cpu1 "
log: .space 64
.include "../asm/blib.s"
