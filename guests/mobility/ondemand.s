; ondemand.s -- code on demand on the teaching OS: run programs the disk does not have.
;
; Run it:   hv repo add /tmp/repo guests/mobility/hello_user.s
;           hv os guests/mobility/ondemand.s --repo /tmp/repo --input hello_user
;
; What it does: reads a program name from the console input (a line), then twice forks a
; child that execs that name, and waits for it. The OS boots with only this program on its
; disk: the first exec finds nothing there and asks the code repository, which hands over
; the image (checked against its hash); the kernel caches it on the disk. The second exec
; finds it on the disk and never leaves the machine. Then it execs a name the repository
; does not have, to show exec's -2.
;
; What it shows: weak mobility. Only code moves: the program starts from its entry point
; in a fresh process; nothing of a running process travels with it. The image is the same
; bytecode whichever core or hypervisor runs it.

.include "user.s"

main:
    li   r1, name                   ; the program's name from the input line
    li   r2, 19
    call read
    li   r2, name
    add  r2, r2, r1
    stb  r0, [r2]                   ; NUL-terminate what came (and cut at a newline)
    li   r2, name
cut:
    ldb  r3, [r2]
    beq  r3, r0, named
    li   r4, '\n'
    bne  r3, r4, next_char
    stb  r0, [r2]
    jmp  named
next_char:
    add  r2, r2, 1
    jmp  cut
named:
    li   r9, 0                      ; r9 = how many runs so far
run_once:
    call fork
    bne  r1, r0, parent
    li   r1, name                   ; the child: become the program
    call exec
    mov  r8, r1                     ; exec returned: it failed
    li   r1, msg_failed
    call puts
    mov  r1, r8
    call print_signed
    call newline_
    li   r1, 1
    call exit
parent:
    li   r1, -1
    call wait
    mov  r8, r2
    li   r1, msg_status
    call puts
    mov  r1, r8
    call print_dec
    call newline_
    add  r9, r9, 1
    li   r2, 2
    bne  r9, r2, run_once

    li   r1, missing                ; a program nobody has
    call exec
    mov  r8, r1
    li   r1, msg_missing
    call puts
    mov  r1, r8
    call print_signed
    call newline_
    li   r1, 0
    ret

print_signed:                       ; r1 as a signed decimal
    push r8
    mov  r8, r1
    li   r2, 0
    bge  r8, r2, ps_pos
    li   r1, minus
    call puts
    li   r2, 0
    sub  r8, r2, r8
ps_pos:
    mov  r1, r8
    call print_dec
    pop  r8
    ret

newline_:
    li   r1, nl
    call puts
    ret

msg_failed:  .asciz "ondemand: exec failed: "
msg_status:  .asciz "ondemand: the program exited with status "
msg_missing: .asciz "ondemand: exec of a program nobody has: "
missing:     .asciz "no_such_program"
minus:       .asciz "-"
nl:          .asciz "\n"
name:        .space 24
