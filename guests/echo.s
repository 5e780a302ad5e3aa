; echo.s -- console input: read bytes until there are no more, echo them back.
;
; Run it:   hv run guests/echo.s --input 'hello\nvirtual world\n'
;      or:  printf 'one\ntwo\n' | hv run guests/echo.s
;
; Each input line comes back numbered and upper-cased; at the end of the input the program
; prints how many lines and bytes it read, and halts.
;
;     1: HELLO
;     2: VIRTUAL WORLD
;     lines: 2, bytes: 20
;
; What it shows:
;   - console input: `in rX, 0x11` gives the next input byte, or -1 (0xffffffff) when
;     there is none left. The input is fixed before the run starts (--input, or a pipe), so
;     the run is deterministic, like everything on this machine;
;   - a small state machine: "at the start of a line" decides when to print the number;
;   - character arithmetic: 'a'..'z' become 'A'..'Z' by subtracting 'a' - 'A' (32), and an
;     unsigned comparison checks the range in one go.
;
; What to look for: a last line without a trailing newline is still echoed and counted,
; and gets its newline from us.

.include "lib/hw.s"             ; the machine's numbers by name (PORT_..., CAUSE_...)
.entry main

main:
    li   r6, 0                  ; r6 = lines seen
    li   r7, 0                  ; r7 = bytes read
    li   r8, 1                  ; r8 = 1 when the next byte starts a new line
    li   r9, -1                 ; what `in` returns when the input is used up
    li   r10, '\n'
    li   r11, 0
read:
    in   r2, PORT_CONSOLE_IN               ; the next byte, or -1
    beq  r2, r9, end_of_input
    add  r7, r7, 1
    beq  r8, r11, in_line
    add  r6, r6, 1              ; the first byte of a line: print its number first
    mov  r1, r6
    call print_uint
    li   r1, s_colon
    call puts
    li   r8, 0
in_line:
    ; Upper-case: if (r2 - 'a') < 26, as an UNSIGNED number, r2 is a lower-case letter.
    ; Bytes below 'a' wrap around to huge unsigned values, so one comparison covers both
    ; ends of the range.
    sub  r3, r2, 'a'
    li   r4, 26
    bgeu r3, r4, not_lower
    sub  r2, r2, 'a' - 'A'
not_lower:
    mov  r1, r2
    call putc
    bne  r2, r10, read
    li   r8, 1                  ; a newline: the next byte starts a line
    jmp  read

end_of_input:
    bne  r8, r11, counted       ; the last line had no newline: finish it
    call newline
counted:
    li   r1, s_lines
    call puts
    mov  r1, r6
    call print_uint
    li   r1, s_bytes
    call puts
    mov  r1, r7
    call print_uint
    call newline
    halt

s_colon:    .asciz ": "
s_lines:    .asciz "lines: "
s_bytes:    .asciz ", bytes: "

.include "lib/io.s"
