; Run by exec from pid 1: the same process, so getpid is still 1.
.include "user.s"
.include "../ct.s"
main:
    call getpid
    mov  r2, r1
    li   r1, s_pid
    call show
    li   r1, 6
    ret
s_pid: .asciz "pid "
