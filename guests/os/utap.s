; utap.s -- TAP for user programs of the teaching OS (guests/os/tests/).
;
; guests/lib/tap.s prints with `out`, which a user program may not use; this one prints
; through the `write` system call. Include it after user.s:
;
;       .include "user.s"
;       .include "utap.s"
;       main:
;           PLAN 2
;           call getpid
;           CHECK_EQ r1, 1, "the first process is pid 1"
;           CHECK_EQR r1, r1, "a register equals itself"
;           DONE                    ; exit(0) if all passed and as planned, else exit(1)
;
; Macros preserve every register (they push r1-r7 around the library's calls). The first
; operand of a check is a register other than sp. Routines start with `tap_`.

.macro PLAN count
    push r1
    push r2
    push r3
    push r4
    push r5
    push r6
    push r7
    li   r1, \count
    call tap_plan
    pop  r7
    pop  r6
    pop  r5
    pop  r4
    pop  r3
    pop  r2
    pop  r1
.endm

; CHECK_EQ reg, value, "name": pass when reg = value (a number or expression)
.macro CHECK_EQ reg, value, name
    push r1
    push r2
    push r3
    push r4
    push r5
    push r6
    push r7
    push \reg
    pop  r1
    li   r2, \value
    li   r3, tap_name\@
    call tap_eq
    pop  r7
    pop  r6
    pop  r5
    pop  r4
    pop  r3
    pop  r2
    pop  r1
    jmp  tap_after\@
tap_name\@: .asciz \name
tap_after\@:
.endm

; CHECK_EQR reg, reg2, "name": pass when the two registers are equal
.macro CHECK_EQR reg, other, name
    push r1
    push r2
    push r3
    push r4
    push r5
    push r6
    push r7
    push \reg
    push \other
    pop  r2
    pop  r1
    li   r3, tap_name\@
    call tap_eq
    pop  r7
    pop  r6
    pop  r5
    pop  r4
    pop  r3
    pop  r2
    pop  r1
    jmp  tap_after\@
tap_name\@: .asciz \name
tap_after\@:
.endm

; OK reg, "name": pass when reg is not 0
.macro OK reg, name
    push r1
    push r2
    push r3
    push r4
    push r5
    push r6
    push r7
    push \reg
    pop  r1
    li   r2, tap_name\@
    call tap_ok
    pop  r7
    pop  r6
    pop  r5
    pop  r4
    pop  r3
    pop  r2
    pop  r1
    jmp  tap_after\@
tap_name\@: .asciz \name
tap_after\@:
.endm

.macro DIAG text
    push r1
    push r2
    push r3
    push r4
    push r5
    push r6
    push r7
    li   r1, tap_name\@
    call tap_diag
    pop  r7
    pop  r6
    pop  r5
    pop  r4
    pop  r3
    pop  r2
    pop  r1
    jmp  tap_after\@
tap_name\@: .asciz \text
tap_after\@:
.endm

.macro DONE
    call tap_done
.endm

    .align 4
tap_count:      .word 0
tap_failed:     .word 0
tap_planned:    .word 0

tap_plan:
    li   r2, tap_planned
    st   r1, [r2]
    push r1
    li   r1, tap_s_plan
    call puts
    pop  r1
    call print_dec
    li   r1, tap_s_nl
    call puts
    ret

; tap_ok: r1 = condition, r2 = name
tap_ok:
    li   r3, 0
    bne  r1, r3, tap_ok_pass
    li   r3, tap_failed
    li   r4, 1
    st   r4, [r3]
    push r2
    li   r1, tap_s_not
    call puts
    pop  r2
tap_ok_pass:
    push r2
    li   r1, tap_s_ok
    call puts
    li   r2, tap_count
    ld   r1, [r2]
    add  r1, r1, 1
    st   r1, [r2]
    call print_dec
    li   r1, tap_s_dash
    call puts
    pop  r1
    call puts
    li   r1, tap_s_nl
    call puts
    ret

; tap_eq: r1 = actual, r2 = expected, r3 = name
tap_eq:
    push r1
    push r2
    sub  r1, r1, r2
    li   r4, 0
    li   r5, 1
    beq  r1, r4, tap_eq_same
    li   r5, 0
tap_eq_same:
    mov  r1, r5
    mov  r2, r3
    push r5
    call tap_ok
    pop  r5
    pop  r2
    pop  r1
    li   r4, 0
    bne  r5, r4, tap_eq_done
    push r1
    push r2
    li   r1, tap_s_expected
    call puts
    pop  r1
    call tap_int
    li   r1, tap_s_got
    call puts
    pop  r1
    call tap_int
    li   r1, tap_s_nl
    call puts
tap_eq_done:
    ret

; tap_int: r1 as a signed decimal number
tap_int:
    li   r2, 0
    bge  r1, r2, tap_int_pos
    push r1
    li   r1, tap_s_minus
    call puts
    pop  r1
    li   r2, 0
    sub  r1, r2, r1
tap_int_pos:
    call print_dec
    ret

tap_diag:
    push r1
    li   r1, tap_s_hash
    call puts
    pop  r1
    call puts
    li   r1, tap_s_nl
    call puts
    ret

tap_done:
    li   r2, tap_failed
    ld   r1, [r2]
    li   r2, tap_count
    ld   r2, [r2]
    li   r3, tap_planned
    ld   r3, [r3]
    beq  r2, r3, tap_done_count
    li   r1, 1
tap_done_count:
    call exit

tap_s_plan:     .asciz "1.."
tap_s_nl:       .asciz "\n"
tap_s_not:      .asciz "not "
tap_s_ok:       .asciz "ok "
tap_s_dash:     .asciz " - "
tap_s_expected: .asciz "# expected "
tap_s_got:      .asciz ", got "
tap_s_minus:    .asciz "-"
tap_s_hash:     .asciz "# "
