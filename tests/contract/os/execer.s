; pid 1 becomes pidof by exec: the same pid, and the machine's status is then pidof's.
.include "user.s"
main:
    li   r1, name
    call exec
    li   r1, 1
    ret
name: .asciz "pidof"
