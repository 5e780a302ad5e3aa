; Bare-machine printing, stack-based, only the brief's fixed ports.
; putc(r1), puts(r1 = NUL-terminated string), putd(r1 unsigned decimal), putx(r1 8 hex digits)
putc:
    out  0x10, r1
    ret
puts:
    push r2
    mov  r2, r1
puts_loop:
    ldb  r1, [r2]
    li   r3, 0
    beq  r1, r3, puts_done
    out  0x10, r1
    add  r2, r2, 1
    jmp  puts_loop
puts_done:
    pop  r2
    ret
putd:                           ; unsigned decimal, recursive
    push r2
    li   r2, 10
    divu r3, r1, r2
    li   r2, 0
    beq  r3, r2, putd_last
    push r1
    mov  r1, r3
    call putd
    pop  r1
putd_last:
    remu r1, r1, 10
    add  r1, r1, '0'
    out  0x10, r1
    pop  r2
    ret
putx:
    push r4
    li   r4, 28
putx_loop:
    shr  r3, r1, r4
    and  r3, r3, 0xf
    li   r2, 10
    bltu r3, r2, putx_digit
    add  r3, r3, 'a' - 10
    jmp  putx_out
putx_digit:
    add  r3, r3, '0'
putx_out:
    out  0x10, r3
    li   r2, 0
    beq  r4, r2, putx_done
    sub  r4, r4, 4
    jmp  putx_loop
putx_done:
    pop  r4
    ret
nl:
    li   r1, 10
    out  0x10, r1
    ret
sp_:
    li   r1, ' '
    out  0x10, r1
    ret
