; xchg (brief §11): swaps a register with a word, atomically; a store's rules (an address
; outside memory is cause 6 with badaddr); unprivileged: it runs in user mode.
; Two CPUs count to 2000 in one word under an xchg spinlock. Run with --cpus 2 --quantum 7.
.entry start
start:
    mfcr r1, cpuid
    li   r2, 0
    bne  r1, r2, worker
    li   sp, 0x8000
    li   r1, 5
    li   r2, word
    xchg r1, [r2 + 4]           ; word+4 held 9
    call putd                   ; 9
    call sp_
    ld   r1, [r2 + 4]
    call putd                   ; 5
    call sp_
    li   r1, handler
    mtcr evec, r1
    li   r1, 1                  ; user mode, paging off
    mtcr status, r1
    li   r1, user
    mtcr epc, r1
    iret
user:
    li   r3, 0x77
    li   r4, word
    xchg r3, [r4]               ; in user mode: no trap; r3 = 3
    li   r4, 0x10000
    xchg r5, [r4 - 2]           ; crosses the end of memory: cause 6
    li   r3, 'X'
handler:
    mov  r1, r3
    call putd                   ; 3
    call sp_
    mfcr r1, cause
    call putd                   ; 6
    call sp_
    mfcr r1, badaddr
    call putx                   ; 00010000: the first byte that fails (docs/isa.md)
    call nl
    ; the counting race, CPU 0's half
    call count
wait_other:
    li   r2, 0
    ld   r1, [r2 + finished]
    beq  r1, r2, wait_other
    ld   r1, [r2 + counter]
    call putd                   ; 2000
    call nl
    halt
worker:                         ; CPU 1: its stack, then its half
    li   sp, 0x9000
    call count
    li   r1, 1
    li   r2, 0
    st   r1, [r2 + finished]
park:
    jmp  park
count:                          ; 1000 increments, each under the lock
    li   r5, 1000
count_loop:
    li   r6, 1
    li   r7, lock
spin:
    xchg r6, [r7]
    li   r8, 0
    bne  r6, r8, spin
    ld   r8, [r7 + 4]           ; counter (with a gap the other CPU can fall in)
    nop
    add  r8, r8, 1
    st   r8, [r7 + 4]
    li   r6, 0
    st   r6, [r7]               ; unlock
    sub  r5, r5, 1
    li   r6, 0
    bne  r5, r6, count_loop
    ret
word:     .word 3, 9
lock:     .word 0
counter:  .word 0
finished: .word 0
.include "../asm/blib.s"
