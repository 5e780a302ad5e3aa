; Data directives, little-endian layout, zero-extending loads, push/pop/call on the stack.
.entry start
.include "blib.s"
start:
    li   r2, d_byte
    ldb  r1, [r2]               ; 0xff, zero-extended: 255
    call show
    ld   r1, [r2 + 1]           ; unaligned word: bytes 01 00 34 12 -> 0x12340001
    call showx
    li   r2, d_half
    ldh  r1, [r2]               ; 0xfffe zero-extended
    call showx
    li   r1, d_aligned          ; .align 4 after 7 bytes of data
    and  r1, r1, 3
    call show
    li   r1, d_after_space - d_space   ; .space 10
    call show
    li   r2, d_word
    ld   r1, [r2 - 0]
    call showx                  ; .word -2 -> fffffffe
    li   r2, d_word
    ldb  r1, [r2 + 4]           ; .byte 'a', 'b' after it
    call show
    ; push: a word at sp - 4, sp lowered by 4; pop the reverse; call pushes the next pc
    mov  r10, sp
    li   r1, 0xabcd
    push r1
    sub  r1, r10, sp
    call show                   ; 4
    ld   r1, [sp]
    call showx                  ; 0000abcd
    pop  r3
    sub  r1, r10, sp
    call show                   ; 0
    call where
after_call:
    li   r2, after_call
    sub  r1, r1, r2
    call show                   ; 0: call pushed the address of the next instruction
    halt
where:
    ld   r1, [sp]
    ret
show:
    call putd
    jmp  nl
showx:
    call putx
    jmp  nl
d_byte:  .byte 0xff, 1, 0
         .half 0x1234
d_half:  .half 0xfffe
d_aligned_pad: .align 4
d_aligned:
d_space: .space 10
d_after_space:
d_word:  .word -2
         .byte 'a', 'b'
