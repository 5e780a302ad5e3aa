; demos/table.s -- printing the demos' tables: right-aligned numbers, padded text, and
; numbers with two decimals. Include after user.s. Labels start with `tbl_`.
;
;   tbl_row(text, n)      "  text" padded to 36 columns, then n right-aligned in 10, "\n"
;   tbl_num(n, width)     n (unsigned) right-aligned in `width` columns
;   tbl_text(text, width) text, then spaces up to `width` columns
;   tbl_fixed2(n)         n / 100 with two decimals: 387 -> "3.87"
;   tbl_nl()              "\n"

tbl_row:
    push r2
    li   r2, 36
    call tbl_text
    pop  r1
    li   r2, 10
    call tbl_num
    call tbl_nl
    ret

tbl_text:
    push r8
    push r9
    mov  r8, r2
    mov  r9, r1
    call puts                   ; r1 = its length
    sub  r8, r8, r1
tbl_text_pad:
    li   r2, 0
    bge  r2, r8, tbl_text_done
    li   r1, tbl_space
    li   r2, 1
    call write
    sub  r8, r8, 1
    jmp  tbl_text_pad
tbl_text_done:
    pop  r9
    pop  r8
    ret

tbl_num:
    push r8
    push r9
    mov  r8, r1
    mov  r9, r2
    li   r3, 1                  ; digits in n
    mov  r4, r1
tbl_num_count:
    divu r4, r4, 10
    li   r5, 0
    beq  r4, r5, tbl_num_pad
    add  r3, r3, 1
    jmp  tbl_num_count
tbl_num_pad:
    sub  r9, r9, r3
tbl_num_pad_loop:
    li   r2, 0
    bge  r2, r9, tbl_num_out
    li   r1, tbl_space
    li   r2, 1
    call write
    sub  r9, r9, 1
    jmp  tbl_num_pad_loop
tbl_num_out:
    mov  r1, r8
    call print_dec
    pop  r9
    pop  r8
    ret

tbl_fixed2:
    push r8
    mov  r8, r1
    divu r1, r8, 100
    call print_dec
    li   r1, tbl_dot
    call puts
    remu r1, r8, 100
    li   r2, 10
    bgeu r1, r2, tbl_fixed2_two
    push r1
    li   r1, tbl_zero
    call puts
    pop  r1
tbl_fixed2_two:
    call print_dec
    pop  r8
    ret

tbl_nl:
    li   r1, tbl_newline
    call puts
    ret

tbl_space:   .asciz " "
tbl_dot:     .asciz "."
tbl_zero:    .asciz "0"
tbl_newline: .asciz "\n"
