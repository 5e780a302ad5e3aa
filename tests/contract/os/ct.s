; Printing helpers for the contract programs, written only against the fixed ABI:
; user.s's puts/print_dec and its calling convention (r1-r7 clobbered).

; show(label, value): prints "label value\n", value in signed decimal.
show:
    push r8
    push r9
    mov  r8, r2
    call puts
    mov  r1, r8
    call pint
    li   r1, ct_nl
    call puts
    pop  r9
    pop  r8
    ret

; pint(n): signed decimal
pint:
    push r8
    mov  r8, r1
    li   r2, 0
    bge  r8, r2, ct_pos
    li   r1, ct_minus
    call puts
    li   r2, 0
    sub  r8, r2, r8
ct_pos:
    mov  r1, r8
    call print_dec
    pop  r8
    ret

; say(str): puts + newline
say:
    call puts
    li   r1, ct_nl
    call puts
    ret

ct_nl:    .asciz "\n"
ct_minus: .asciz "-"
