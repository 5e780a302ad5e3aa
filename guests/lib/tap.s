; guests/lib/tap.s -- a test library for guest programs: TAP on the console.
;
; A guest test prints TAP (the Test Anything Protocol) and powers off with status 0 when
; every test passed, 1 otherwise. `hv test` and the pytest plugin read that output; see
; docs/testing.md. A test reads like this:
;
;       .entry main
;       .include "../../lib/tap.s"      ; path relative to the test file
;   main:
;       PLAN 2
;       li   r1, 2
;       add  r2, r1, 3
;       CHECK_EQ r2, 5, "2 + 3 is 5"
;       li   r3, 1
;       OK   r3, "r3 is not zero"
;       DONE
;
; which prints
;
;       1..2
;       ok 1 - 2 + 3 is 5
;       ok 2 - r3 is not zero
;
; and, when a check fails, the values and where the check is:
;
;       not ok 1 - 2 + 3 is 5
;       # expected 5, got 4
;       # at 0x0000013a
;
; (`hv test` and the plugin turn the address into the source line of the check.)
;
; Include this file near the top (macros must be defined before they are used) and start
; the program with `.entry`, since the library's code is assembled where it is included.
; It includes guests/lib/io.s itself: do not include io.s again.
;
; Macros (they preserve every register; a check's first operand must be a register other
; than sp; a name or text is a string literal):
;   PLAN n                    print the plan "1..n" (optional: DONE prints it otherwise)
;   OK reg, "name"            pass when reg is not 0
;   CHECK_EQ reg, b, "name"   pass when reg = b (b a register or a value); prints
;                             "# expected B, got REG" and "# at ADDR" when it fails
;   CHECK_NE reg, b, "name"   pass when reg != b
;   PASS "name"               a test that passed
;   FAIL "name"               a test that failed
;
; A name may end in a TODO directive, "name # TODO reason": the test is a known bug; when
; it fails it prints "not ok N - name # TODO reason" and does not fail the file (DONE
; still powers off with 0), as TAP consumers such as prove read it.
;   SKIP "reason"             a skipped test: "ok N # SKIP reason"
;   DIAG "text"               a diagnostic line: "# text"
;   BAIL "reason"             "Bail out! reason", then power off with status 1
;   DONE                      power off: status 0 if every test passed (and as many ran as
;                             were planned; failed TODO tests do not count), 1 otherwise
;
; Routines, for computed names or when a macro does not fit (arguments in r1, r2, r3; every
; register preserved; about 96 bytes of stack):
;   tap_plan    r1 = number of tests
;   tap_ok      r1 = condition (0 = fail), r2 = name
;   tap_eq      r1 = actual, r2 = expected, r3 = name
;   tap_skip    r1 = reason
;   tap_diag    r1 = text (the "# " is added)
;   tap_done    does not return
;
; Everything here uses `out`, so it runs in kernel mode only. A test of user mode records
; its results in memory and checks them after it traps back into the kernel.
;
; Local labels start with `tap_`.

    .include "hw.s"
    .include "io.s"

; ---- macros -----------------------------------------------------------------------------

.macro PLAN count
    push r1
    li   r1, \count
    call tap_plan
    pop  r1
.endm

.macro OK cond, name
    push r1
    push r2
    mov  r1, \cond
    li   r2, tap_name\@
    call tap_ok
    pop  r2
    pop  r1
    jmp  tap_after\@
tap_name\@: .asciz \name
tap_after\@:
.endm

.macro CHECK_EQ actual, expected, name
    push \actual                    ; the actual value, at [sp + 12] below
    push r1
    push r2
    push r3
    sub  r3, \actual, \expected     ; actual - expected, from the untouched registers
    ld   r1, [sp + 12]              ; actual
    sub  r2, r1, r3                 ; expected = actual - (actual - expected)
    li   r3, tap_name\@
    call tap_eq
    pop  r3
    pop  r2
    pop  r1
    add  sp, sp, 4
    jmp  tap_after\@
tap_name\@: .asciz \name
tap_after\@:
.endm

.macro CHECK_NE actual, other, name
    push r1
    push r2
    push r3
    sub  r1, \actual, \other        ; 0 exactly when they are equal
    li   r3, 0
    li   r2, 1
    bne  r1, r3, tap_ne\@
    li   r2, 0
tap_ne\@:
    mov  r1, r2
    li   r2, tap_name\@
    call tap_ok
    pop  r3
    pop  r2
    pop  r1
    jmp  tap_after\@
tap_name\@: .asciz \name
tap_after\@:
.endm

.macro PASS name
    push r1
    push r2
    li   r1, 1
    li   r2, tap_name\@
    call tap_ok
    pop  r2
    pop  r1
    jmp  tap_after\@
tap_name\@: .asciz \name
tap_after\@:
.endm

.macro FAIL name
    push r1
    push r2
    li   r1, 0
    li   r2, tap_name\@
    call tap_ok
    pop  r2
    pop  r1
    jmp  tap_after\@
tap_name\@: .asciz \name
tap_after\@:
.endm

.macro SKIP reason
    push r1
    li   r1, tap_name\@
    call tap_skip
    pop  r1
    jmp  tap_after\@
tap_name\@: .asciz \reason
tap_after\@:
.endm

.macro DIAG text
    push r1
    li   r1, tap_name\@
    call tap_diag
    pop  r1
    jmp  tap_after\@
tap_name\@: .asciz \text
tap_after\@:
.endm

.macro BAIL reason
    li   r1, tap_bail_msg
    call puts
    li   r1, tap_name\@
    call puts
    call newline
    li   r1, 1
    out  PORT_POWER, r1
tap_name\@: .asciz \reason
.endm

.macro DONE
    call tap_done
.endm

; ---- routines ---------------------------------------------------------------------------

tap_plan:
    push r1
    push r2
    li   r2, tap_planned
    st   r1, [r2]
    li   r2, tap_have_plan
    st   r2, [r2]                   ; any non-zero value: the plan was printed
    mov  r2, r1
    li   r1, tap_plan_head
    call puts                       ; "1.."
    mov  r1, r2
    call print_uint
    call newline
    pop  r2
    pop  r1
    ret

; tap_result: r1 = condition, r2 = name (0: none); prints "ok N" or "not ok N" and counts
; the result. A failure whose name carries a TODO directive ("... # TODO reason") is not
; counted: TAP reads it as a known bug, which does not fail the file.
tap_result:
    push r1
    push r2
    push r3
    li   r3, 0
    bne  r1, r3, tap_result_count
    beq  r2, r3, tap_result_failed  ; no name, no directive
    mov  r1, r2
    call tap_is_todo
    li   r3, 0
    bne  r1, r3, tap_result_count   ; not ok ... # TODO: expected to fail
tap_result_failed:
    li   r3, tap_failed
    ld   r1, [r3]
    add  r1, r1, 1
    st   r1, [r3]
tap_result_count:
    li   r3, tap_count
    ld   r2, [r3]
    add  r2, r2, 1
    st   r2, [r3]                   ; N = ++count
    ld   r1, [sp + 8]               ; the condition (pushed first)
    li   r3, 0
    bne  r1, r3, tap_result_ok
    li   r1, tap_not_msg
    call puts                       ; "not "
tap_result_ok:
    li   r1, tap_ok_msg
    call puts                       ; "ok "
    mov  r1, r2
    call print_uint
    pop  r3
    pop  r2
    pop  r1
    ret

; tap_is_todo: r1 = a test name; r1 = 1 when it holds a TODO directive, else 0: a '#', any
; spaces, the word TODO in any case, then a space or the end (the rule every TAP consumer
; agrees on: prove also takes "# TODO:", tap.py does not).
tap_is_todo:
    push r2
    push r3
    push r4
    push r5
tap_todo_scan:
    ldb  r2, [r1]
    li   r3, 0
    beq  r2, r3, tap_todo_no        ; the end of the name
    add  r1, r1, 1
    li   r3, '#'
    bne  r2, r3, tap_todo_scan
tap_todo_space:
    ldb  r2, [r1]
    li   r3, ' '
    bne  r2, r3, tap_todo_word
    add  r1, r1, 1
    jmp  tap_todo_space
tap_todo_word:
    li   r4, tap_todo_text
    mov  r5, r1
tap_todo_letter:
    ldb  r3, [r4]
    li   r2, 0
    beq  r3, r2, tap_todo_end       ; all four letters matched
    ldb  r2, [r5]
    or   r2, r2, 0x20               ; lower case (a letter; anything else stays unequal)
    bne  r2, r3, tap_todo_scan      ; not this '#': look for a later one
    add  r4, r4, 1
    add  r5, r5, 1
    jmp  tap_todo_letter
tap_todo_end:
    ldb  r2, [r5]                   ; the word ends the name or a space follows it
    li   r3, 0
    beq  r2, r3, tap_todo_yes
    li   r3, ' '
    beq  r2, r3, tap_todo_yes
    li   r3, 9                      ; tab
    bne  r2, r3, tap_todo_scan
tap_todo_yes:
    li   r1, 1
    jmp  tap_todo_ret
tap_todo_no:
    li   r1, 0
tap_todo_ret:
    pop  r5
    pop  r4
    pop  r3
    pop  r2
    ret

tap_ok:
    push r1
    call tap_result
    li   r1, tap_dash_msg
    call puts                       ; " - "
    mov  r1, r2
    call puts
    call newline
    pop  r1
    ret

tap_eq:
    push r1
    push r4
    push r5
    mov  r4, r1                     ; actual
    li   r1, 0
    li   r5, 0
    bne  r4, r2, tap_eq_report      ; r1 = (actual == expected)
    li   r1, 1
tap_eq_report:
    push r2
    mov  r2, r3                     ; the name, for a TODO directive
    call tap_result
    pop  r2
    li   r1, tap_dash_msg
    call puts
    mov  r1, r3
    call puts
    call newline
    bne  r4, r2, tap_eq_fail
    pop  r5
    pop  r4
    pop  r1
    ret
tap_eq_fail:
    li   r1, tap_expected_msg
    call puts                       ; "# expected "
    mov  r1, r2
    call print_int
    li   r1, tap_got_msg
    call puts                       ; ", got "
    mov  r1, r4
    call print_int
    ; Large values read better in hex too: any outside -1024..1023.
    add  r1, r2, 1024
    li   r5, 2048
    bgeu r1, r5, tap_eq_hex
    add  r1, r4, 1024
    bgeu r1, r5, tap_eq_hex
    jmp  tap_eq_where
tap_eq_hex:
    li   r1, tap_hex_open_msg
    call puts                       ; " (hex: expected "
    mov  r1, r2
    call print_hex
    li   r1, tap_got_msg
    call puts
    mov  r1, r4
    call print_hex
    li   r1, ')'
    call putc
tap_eq_where:
    call newline
    li   r1, tap_at_msg
    call puts                       ; "# at "
    ld   r1, [sp + 12]              ; our return address: just after the call of the check
    call print_hex
    call newline
    pop  r5
    pop  r4
    pop  r1
    ret

tap_skip:
    push r1
    push r2
    mov  r2, r1
    li   r1, 1
    call tap_result                 ; a skip passes: its reason is not a name
    li   r1, tap_skip_msg
    call puts                       ; " # SKIP "
    mov  r1, r2
    call puts
    call newline
    pop  r2
    pop  r1
    ret

tap_diag:
    push r1
    push r1
    li   r1, tap_hash_msg
    call puts                       ; "# "
    pop  r1
    call puts
    call newline
    pop  r1
    ret

; tap_done: print the plan now if there was none, then power off with 0 when every test
; passed (a failed TODO test counts as passed) and the count matches the plan, 1 otherwise.
tap_done:
    li   r3, tap_have_plan
    ld   r1, [r3]
    li   r2, 0
    bne  r1, r2, tap_done_check
    li   r3, tap_count
    ld   r1, [r3]
    call tap_plan
tap_done_check:
    li   r3, tap_failed
    ld   r1, [r3]
    bne  r1, r2, tap_done_fail
    li   r3, tap_count
    ld   r1, [r3]
    li   r3, tap_planned
    ld   r2, [r3]
    bne  r1, r2, tap_done_fail
    li   r1, 0
    out  PORT_POWER, r1
tap_done_fail:
    li   r1, 1
    out  PORT_POWER, r1

tap_planned:    .word 0
tap_have_plan:  .word 0
tap_count:      .word 0
tap_failed:     .word 0
tap_plan_head:  .asciz "1.."
tap_not_msg:    .asciz "not "
tap_ok_msg:     .asciz "ok "
tap_dash_msg:   .asciz " - "
tap_skip_msg:   .asciz " # SKIP "
tap_hash_msg:   .asciz "# "
tap_expected_msg: .asciz "# expected "
tap_got_msg:    .asciz ", got "
tap_hex_open_msg: .asciz " (hex: expected "
tap_at_msg:     .asciz "# at "
tap_bail_msg:   .asciz "Bail out! "
tap_todo_text:  .asciz "todo"
