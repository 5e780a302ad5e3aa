; cpuid and icount (brief §11): read-only control registers 7 and 8; idle slots in wfi
; advance the clock; an IPI wakes a waiting CPU with IE = 0. Run with --cpus 2 --quantum 10.
.entry start
start:
    mfcr r1, icount             ; the first instruction: nothing retired yet, 0
    mfcr r2, cpuid
    li   r3, 0
    bne  r2, r3, cpu1
    ; CPU 0
    li   r4, 0x1234
    mtcr cpuid, r4              ; ignored
    mtcr icount, r4             ; ignored
    mfcr r4, cpuid
    add  r1, r1, '0'
    out  0x10, r1               ; "0": icount read 0
    add  r4, r4, '0'
    out  0x10, r4               ; "0": cpuid unchanged
    ; (slot 10 ended CPU 0's first turn; CPU 1 ran slots 1..10: four instructions,
    ; wfi in slot 5, then 5 idle slots)
    mfcr r5, icount             ; CPU 0's 13th instruction: icount 12
    li   r6, 1
    out  0x21, r6               ; IPI to CPU 1
    li   r6, 9
    out  0x21, r6               ; a CPU that does not exist: ignored
    mov  r1, r5
    call putd                   ; 12
    li   r1, ' '
    out  0x10, r1
    li   r3, 0                  ; (putd used r3)
wait_cpu1:
    ld   r1, [r3 + result]
    beq  r1, r3, wait_cpu1
    sub  r1, r1, 1
    call putd                   ; CPU 1's icount after it woke
    li   r1, 10
    out  0x10, r1
    halt
cpu1:
    wfi                         ; slot 1 of its first turn; idle slots 2..10
    mfcr r5, icount             ; woken in its second turn's first slot: 10
    add  r5, r5, 1
    st   r5, [r3 + result]
park:                           ; (not wfi: the IPI stays pending with IE = 0, so wfi
    jmp  park                   ; would go straight on)
result: .word 0
.include "../asm/blib.s"
