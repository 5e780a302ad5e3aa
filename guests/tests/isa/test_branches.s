; Branches, jumps and calls: beq, bne, blt, bge, bltu, bgeu (taken and not taken, signed
; and unsigned), jmp to a label and through a register, call and ret, nested calls.
.entry main
.include "../../lib/tap.s"

; BR_TAKEN op, a, b, "name": passes when `op a, b` branches
.macro BR_TAKEN op, a, b, name
    \op  \a, \b, taken\@
    FAIL \name
    jmp  done\@
taken\@:
    PASS \name
done\@:
.endm

; BR_NOT op, a, b, "name": passes when `op a, b` falls through
.macro BR_NOT op, a, b, name
    \op  \a, \b, taken\@
    PASS \name
    jmp  done\@
taken\@:
    FAIL \name
done\@:
.endm

main:
    PLAN 23
    li   r1, 5
    li   r2, 5
    li   r3, -1
    li   r4, 7
    BR_TAKEN beq, r1, r2, "beq equal"
    BR_NOT   beq, r1, r4, "beq different"
    BR_TAKEN bne, r1, r4, "bne different"
    BR_NOT   bne, r1, r2, "bne equal"
    BR_TAKEN blt, r3, r1, "blt -1 < 5 signed"
    BR_NOT   blt, r1, r3, "blt 5 < -1 is false"
    BR_NOT   blt, r1, r2, "blt equal is false"
    BR_TAKEN bge, r1, r2, "bge equal"
    BR_TAKEN bge, r1, r3, "bge 5 >= -1 signed"
    BR_NOT   bge, r3, r1, "bge -1 >= 5 is false"
    BR_TAKEN bltu, r1, r3, "bltu 5 < 0xffffffff"
    BR_NOT   bltu, r3, r1, "bltu 0xffffffff < 5 is false"
    BR_TAKEN bgeu, r3, r1, "bgeu 0xffffffff >= 5"
    BR_NOT   bgeu, r1, r4, "bgeu 5 >= 7 is false"
    BR_TAKEN bgeu, r1, r2, "bgeu equal"

    ; a backward branch: count down
    li   r5, 10
    li   r6, 0
    li   r7, 0
loop:
    add  r7, r7, r5
    sub  r5, r5, 1
    bne  r5, r6, loop
    CHECK_EQ r7, 55, "a backward loop sums 1..10"

    jmp  over
    FAIL "jmp label skips"
over:
    PASS "jmp label skips"
    li   r8, via_reg
    jmp  r8
    FAIL "jmp register"
via_reg:
    PASS "jmp register"

    ; call pushes the return address, ret pops it
    mov  r10, sp
    li   r1, 0
    call get_ret
ret_here:
    CHECK_EQ r1, ret_here, "call pushes the address of the next instruction"
    mov  r11, sp
    CHECK_EQ r11, r10, "ret pops it again"
    li   r9, add_one
    li   r1, 41
    call r9
    CHECK_EQ r1, 42, "call through a register"
    li   r1, 6
    call fact
    CHECK_EQ r1, 720, "recursion: 6! = 720"
    mov  r11, sp
    CHECK_EQ r11, r10, "the stack is balanced after recursion"
    DONE

get_ret:
    ld   r1, [sp]
    ret

add_one:
    add  r1, r1, 1
    ret

; fact: r1 = r1!  (recursive; uses r2)
fact:
    push r2
    li   r2, 2
    blt  r1, r2, fact_base
    push r1
    sub  r1, r1, 1
    call fact
    pop  r2
    mul  r1, r1, r2
    pop  r2
    ret
fact_base:
    li   r1, 1
    pop  r2
    ret
