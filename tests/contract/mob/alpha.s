; Prints A..Z and a newline, one letter per loop of exactly three instructions, after two
; set-up instructions: after 2 + 3k retired instructions, k letters have been printed.
.entry start
start:
    li   r1, 'A'                ; 1
    li   r2, 'Z' + 1            ; 2
loop:
    out  0x10, r1
    add  r1, r1, 1
    bne  r1, r2, loop
    li   r1, 10
    out  0x10, r1
    li   r1, 3
    out  0xFF, r1               ; power off, status 3
