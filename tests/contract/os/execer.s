; pid 1 becomes prog2 by exec: the machine's status is then prog2's.
.include "user.s"
main:
    li   r1, name
    call exec
    li   r1, 1
    ret
name: .asciz "prog2"
