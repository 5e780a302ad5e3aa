; Processes (brief §9): fork, wait, exec, exit statuses, user faults as 128 + cause.
.include "user.s"
.include "ct.s"

main:
    ; fork: 0 in the child, the child's pid in the parent; wait(pid) -> pid, status
    call fork
    li   r2, 0
    bne  r1, r2, parent1
    li   r1, s_child
    call say
    li   r1, 7
    call exit                   ; does not return
parent1:
    mov  r8, r1                 ; child's pid
    mov  r1, r8
    call wait
    mov  r9, r2
    sub  r2, r1, r8             ; wait's r1 = the child's pid
    li   r1, s_waitpid
    call show
    mov  r2, r9
    li   r1, s_status
    call show
    mov  r1, r8                 ; that child is gone: -3
    call wait
    mov  r2, r1
    li   r1, s_again
    call show

    ; a child's memory is a copy: its write is not seen here
    call fork
    li   r2, 0
    bne  r1, r2, parent2
    li   r1, 99
    li   r2, shared
    st   r1, [r2]
    li   r1, 0
    call exit
parent2:
    li   r1, -1
    call wait
    li   r2, shared
    ld   r2, [r2]
    li   r1, s_copy
    call show

    ; returning from main passes r1 to exit; wait(-1) collects any child
    li   r10, 3                 ; three children with statuses 11, 12, 13
fork3:
    call fork
    li   r2, 0
    beq  r1, r2, kid3
    sub  r10, r10, 1
    li   r2, 0
    bne  r10, r2, fork3
    li   r10, 0                 ; sum of statuses
    li   r11, 3
collect:
    li   r1, -1
    call wait
    add  r10, r10, r2
    sub  r11, r11, 1
    li   r2, 0
    bne  r11, r2, collect
    mov  r2, r10
    li   r1, s_sum
    call show
    li   r1, -1
    call wait
    mov  r2, r1
    li   r1, s_none
    call show

    ; exec replaces the image: same pid, the new program's exit status
    call fork
    li   r2, 0
    bne  r1, r2, parent4
    li   r1, n_prog2
    call exec
    li   r1, s_execfail              ; not reached
    call say
    li   r1, 1
    call exit
parent4:
    mov  r8, r1
    li   r1, pidbox
    st   r8, [r1]
    mov  r1, r8
    call wait
    mov  r9, r2
    li   r1, s_execst
    mov  r2, r9
    call show

    ; user faults: status 128 + cause
    li   r1, f_div
    call runchild
    li   r1, f_priv
    call runchild
    li   r1, f_read
    call runchild
    li   r1, f_write
    call runchild
    li   r1, f_fetch
    call runchild
    li   r1, f_top
    call runchild
    li   r1, f_stack
    call runchild
    li   r1, s_alive
    call say
    li   r1, 42                 ; pid 1's status is the machine's
    ret

kid3:
    li   r1, 14                 ; 11, 12, 13 by r10 = 3, 2, 1
    sub  r1, r1, r10
    ret                         ; main's return: exit(r1)

; runchild(fn): fork, the child calls fn; print the child's status
runchild:
    push r8
    mov  r8, r1
    call fork
    li   r2, 0
    bne  r1, r2, rc_parent
    call r8
    li   r1, 0
    call exit
rc_parent:
    li   r1, -1
    call wait
    li   r1, s_fault
    call show
    pop  r8
    ret

f_div:
    li   r1, 5
    li   r2, 0
    div  r1, r1, r2             ; 128 + 8
    ret
f_priv:
    halt                        ; 128 + 3
f_read:
    li   r1, 0xFFFFF000         ; the top page: 128 + 5
    ld   r1, [r1 + 16]
    ret
f_write:
    li   r1, 0xFFFFFFFC
    st   r1, [r1]               ; 128 + 6
    ret
f_fetch:
    li   r1, 0xFFFFF800
    jmp  r1                     ; 128 + 7
f_top:
    li   r1, 0xFFFFFFF0
    ldb  r1, [r1 + 15]          ; the last byte of the address space: 128 + 5
    ret
f_stack:
    push r1                     ; endless recursion: the process ends, nobody else
    call f_stack

shared:  .word 5
pidbox:  .word 0
n_prog2: .asciz "prog2"
s_child: .asciz "child runs"
s_waitpid: .asciz "wait-pid-diff "
s_status: .asciz "wait-status "
s_again: .asciz "wait-again "
s_copy:  .asciz "parent-sees "
s_sum:   .asciz "status-sum "
s_none:  .asciz "wait-none "
s_execfail: .asciz "exec returned"
s_execst: .asciz "exec-status "
s_fault: .asciz "fault-status "
s_alive: .asciz "parent alive"
