; Loads and stores: ld, ldh, ldb, st, sth, stb; little-endian, zero-extension, unaligned
; access, negative offsets; push, pop and the stack.
.entry main
.include "../../lib/tap.s"

main:
    PLAN 22
    li   r9, buf
    li   r1, 0x11223344
    st   r1, [r9]
    ld   r2, [r9]
    CHECK_EQ r2, 0x11223344, "st then ld"
    ldb  r2, [r9]
    CHECK_EQ r2, 0x44, "little-endian: the low byte comes first"
    ldb  r2, [r9 + 3]
    CHECK_EQ r2, 0x11, "byte 3 is the high byte"
    ldh  r2, [r9 + 2]
    CHECK_EQ r2, 0x1122, "ldh of the upper half"
    ldh  r2, [r9 + 1]
    CHECK_EQ r2, 0x2233, "unaligned ldh"

    li   r1, 0xfffffff0
    st   r1, [r9 + 4]
    ldb  r2, [r9 + 4]
    CHECK_EQ r2, 0xf0, "ldb zero-extends"
    ldh  r2, [r9 + 4]
    CHECK_EQ r2, 0xfff0, "ldh zero-extends"

    li   r1, 0xaabbccdd
    st   r1, [r9 + 9]
    ld   r2, [r9 + 9]
    CHECK_EQ r2, 0xaabbccdd, "unaligned st and ld"
    ldb  r2, [r9 + 12]
    CHECK_EQ r2, 0xaa, "unaligned word lands byte by byte"

    li   r1, 0x12345678
    stb  r1, [r9 + 16]
    ld   r2, [r9 + 16]
    CHECK_EQ r2, 0x78, "stb writes only the low byte"
    sth  r1, [r9 + 16]
    ld   r2, [r9 + 16]
    CHECK_EQ r2, 0x5678, "sth writes only the low half"
    add  r8, r9, 24
    st   r1, [r8 - 4]
    ld   r2, [r9 + 20]
    CHECK_EQ r2, 0x12345678, "a negative offset"
    li   r7, 0
    ld   r2, [r7 + buf + 20]
    CHECK_EQ r2, 0x12345678, "an absolute address as the offset"

    ld   r2, [r9 + table - buf]
    CHECK_EQ r2, 0xcafef00d, "ld of assembled .word data"
    ldh  r2, [r9 + table - buf + 4]
    CHECK_EQ r2, 0xbeef, "ldh of .half data"
    ldb  r2, [r9 + table - buf + 6]
    CHECK_EQ r2, 'A', "ldb of .byte data"

    ; the stack
    mov  r10, sp
    li   r1, 111
    push r1
    sub  r2, r10, sp
    CHECK_EQ r2, 4, "push lowers sp by 4"
    ld   r2, [sp]
    CHECK_EQ r2, 111, "push stores at the new sp"
    li   r1, 222
    push r1
    pop  r3
    pop  r4
    CHECK_EQ r3, 222, "pop: last in, first out"
    CHECK_EQ r4, 111, "pop the earlier word"
    mov  r11, sp                    ; (a check's operand may not be sp: it pushes)
    CHECK_EQ r11, r10, "push and pop balance"
    push sp
    pop  r5
    CHECK_EQ r5, r10, "push sp stores the old sp"
    DONE

table:
    .word 0xcafef00d
    .half 0xbeef
    .byte 'A', 0
    .align 4
buf:
    .space 32
