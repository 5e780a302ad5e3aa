; Arithmetic: li, mov, add, sub, mul, div, divu, rem, remu; register and immediate forms,
; wrap-around, signed and unsigned division, and the divide-by-zero fault.
.entry main
.include "../../lib/tap.s"
.include "../lib/catch.s"

.equ INT_MIN, 0x80000000

main:
    call catch_init
    PLAN 31

    li   r1, 0xffffffff
    li   r2, -1
    CHECK_EQ r1, r2, "li: -1 and 0xffffffff are the same"
    mov  r3, r1
    CHECK_EQ r3, -1, "mov copies"

    li   r1, 40
    add  r2, r1, 2
    CHECK_EQ r2, 42, "add immediate"
    li   r3, 0xffffffff
    add  r2, r3, r1
    CHECK_EQ r2, 39, "add register wraps modulo 2^32"
    add  r2, r3, 1
    CHECK_EQ r2, 0, "0xffffffff + 1 = 0"

    li   r1, 5
    sub  r2, r1, 7
    CHECK_EQ r2, -2, "sub immediate below zero"
    li   r4, 0
    sub  r2, r4, r1
    CHECK_EQ r2, -5, "0 - 5"
    li   r1, INT_MIN
    sub  r2, r1, 1
    CHECK_EQ r2, 0x7fffffff, "INT_MIN - 1 wraps to INT_MAX"

    li   r1, 7
    mul  r2, r1, 6
    CHECK_EQ r2, 42, "mul immediate"
    li   r3, -3
    mul  r2, r1, r3
    CHECK_EQ r2, -21, "mul by a negative register"
    li   r1, 0x10000
    mul  r2, r1, r1
    CHECK_EQ r2, 0, "mul keeps the low 32 bits"
    li   r1, 0x12345678
    mul  r2, r1, 16
    CHECK_EQ r2, 0x23456780, "mul by 16 drops the top nibble"

    li   r1, 7
    div  r2, r1, 2
    CHECK_EQ r2, 3, "div 7 / 2"
    li   r1, -7
    div  r2, r1, 2
    CHECK_EQ r2, -3, "div -7 / 2 truncates toward zero"
    li   r3, -2
    div  r2, r1, r3
    CHECK_EQ r2, 3, "div -7 / -2"
    li   r1, INT_MIN
    div  r2, r1, -1
    CHECK_EQ r2, INT_MIN, "div INT_MIN / -1 = INT_MIN"

    li   r1, -7
    divu r2, r1, 2
    CHECK_EQ r2, 0x7ffffffc, "divu treats -7 as 0xfffffff9"
    li   r1, 100
    li   r3, 7
    divu r2, r1, r3
    CHECK_EQ r2, 14, "divu register"

    li   r1, 7
    rem  r2, r1, 3
    CHECK_EQ r2, 1, "rem 7 % 3"
    li   r1, -7
    rem  r2, r1, 3
    CHECK_EQ r2, -1, "rem takes the dividend's sign"
    li   r1, 7
    rem  r2, r1, -3
    CHECK_EQ r2, 1, "rem 7 % -3 = 1"
    li   r1, INT_MIN
    rem  r2, r1, -1
    CHECK_EQ r2, 0, "rem INT_MIN % -1 = 0"
    li   r1, -1
    remu r2, r1, 10
    CHECK_EQ r2, 5, "remu 4294967295 % 10 = 5"
    li   r3, 16
    remu r2, r1, r3
    CHECK_EQ r2, 15, "remu register"

    ; Division by zero is a fault: cause 8, epc = the div itself, and rd is untouched.
    li   r2, 1234
    li   r4, 0
    CATCH_AT div_done
div_at:
    div  r2, r1, r4
div_done:
    LOADW r5, catch_cause
    CHECK_EQ r5, 8, "div by zero traps with cause 8"
    LOADW r5, catch_epc
    CHECK_EQ r5, div_at, "epc is the faulting div"
    CHECK_EQ r2, 1234, "the faulting div changes nothing"
    LOADW r5, catch_badaddr
    CHECK_EQ r5, 0, "badaddr is 0 for a divide fault"

    CATCH_AT divu_done
    divu r2, r1, 0
divu_done:
    LOADW r5, catch_count
    CHECK_EQ r5, 2, "divu by an immediate 0 traps too"
    CATCH_AT rem_done
    rem  r2, r1, r4
rem_done:
    CATCH_AT remu_done
    remu r2, r1, r4
remu_done:
    LOADW r5, catch_count
    CHECK_EQ r5, 4, "rem and remu by zero trap"
    LOADW r5, catch_cause
    CHECK_EQ r5, 8, "with cause 8"
    DONE
