; Logic and shifts: and, or, xor, shl, shr (logical), sar (arithmetic); register and
; immediate forms; shift amounts use their low 5 bits.
.entry main
.include "../../lib/tap.s"

main:
    PLAN 22
    li   r1, 0xf0f0ff00
    li   r2, 0x0ff0f0f0
    and  r3, r1, r2
    CHECK_EQ r3, 0x00f0f000, "and register"
    and  r3, r1, 0xff
    CHECK_EQ r3, 0, "and immediate"
    or   r3, r1, r2
    CHECK_EQ r3, 0xfff0fff0, "or register"
    or   r3, r1, 0xf
    CHECK_EQ r3, 0xf0f0ff0f, "or immediate"
    xor  r3, r1, r2
    CHECK_EQ r3, 0xff000ff0, "xor register"
    xor  r3, r1, -1
    CHECK_EQ r3, 0x0f0f00ff, "xor with -1 is not"
    xor  r3, r1, r1
    CHECK_EQ r3, 0, "x xor x = 0"

    li   r1, 1
    shl  r3, r1, 31
    CHECK_EQ r3, 0x80000000, "shl 1 by 31"
    shl  r3, r1, 32
    CHECK_EQ r3, 1, "shl by 32 uses the low 5 bits: by 0"
    li   r4, 33
    shl  r3, r1, r4
    CHECK_EQ r3, 2, "shl register amount 33 is 1"
    li   r1, 0x80000001
    shl  r3, r1, 1
    CHECK_EQ r3, 2, "shl drops the top bit"

    li   r1, 0x80000000
    shr  r3, r1, 31
    CHECK_EQ r3, 1, "shr is logical"
    sar  r3, r1, 31
    CHECK_EQ r3, -1, "sar copies the sign bit"
    li   r4, 4
    sar  r3, r1, r4
    CHECK_EQ r3, 0xf8000000, "sar register amount"
    shr  r3, r1, r4
    CHECK_EQ r3, 0x08000000, "shr register amount"
    li   r1, 0x7ffffff0
    sar  r3, r1, 4
    CHECK_EQ r3, 0x07ffffff, "sar of a positive number is shr"
    li   r4, 0xffffffe1
    li   r1, 0x80000000
    shr  r3, r1, r4
    CHECK_EQ r3, 0x40000000, "shr amount 0xffffffe1 is 1"
    li   r1, -100
    sar  r3, r1, 2
    CHECK_EQ r3, -25, "sar divides a negative by 4"

    ; register aliasing: the destination may be a source
    li   r1, 0x0f
    and  r1, r1, 0x3
    CHECK_EQ r1, 3, "and into its own source"
    li   r1, 5
    shl  r1, r1, r1
    CHECK_EQ r1, 160, "shl r1, r1, r1"
    li   r2, 0x55
    xor  r2, r2, 0xff
    CHECK_EQ r2, 0xaa, "xor into its own source"
    or   r2, r2, r2
    CHECK_EQ r2, 0xaa, "or with itself"
    DONE
