; Case-insensitive mnemonics, directives, registers and control registers; case-sensitive
; symbols; expressions with C precedence; escapes in strings and character literals.
.EQU Val, 5
.equ val, 7
.Entry Start
.INCLUDE "blib.s"
Start:
    LI   R1, Val                ; 5
    CALL show
    li   r1, val                ; 7 (another symbol)
    call show
    Li   r1, 1 + 2 * 3          ; 7
    call show
    li   r1, (1 + 2) * 3        ; 9
    call show
    li   r1, 7 - 2 - 1          ; 4
    call show
    li   r1, 100 / 10 / 2       ; 5
    call show
    li   r1, 17 % 5             ; 2
    call show
    li   r1, 1 << 2 + 1         ; 8: + before <<
    call show
    li   r1, 0xF0 | 0x0F & 0x3  ; 243: & before |
    call show
    li   r1, 6 ^ 3 & 1          ; 7: & before ^
    call show
    li   r1, ~0x0F & 0xFF       ; 240
    call show
    li   r1, -1                 ; 4294967295
    call show
    li   r1, 0b1010 + 0x10 + 'A' ; 10 + 16 + 65 = 91
    call show
    li   r1, 0x100 >> 4         ; 16
    call show
    li   r1, '\n' + '\t' + '\\' + '\'' + '\0' + '\x41' + '"'   ; 10+9+92+39+0+65+34 = 249
    call show
    li   r1, Label_end - Label_start   ; 10 bytes of escapes + NUL = 11
    call show
    li   r2, Label_start        ; the bytes, in decimal
bytes:
    ldb  r1, [R2]
    push r2
    call putd
    call sp_
    pop  r2
    add  r2, r2, 1
    li   r3, Label_end
    bltu r2, r3, bytes
    call nl
    MFCR R1, STATUS             ; control-register names too: kernel mode = 1
    call show
    MOV  R1, SP                 ; sp alias: top of 64K memory, less our return address? no: 0x10000
    call show
    HALT
show:
    call putd
    jmp  nl
Label_start: .ASCIZ "\n\t\\\"\'\0\x41\x7f\xffz"
Label_end:
