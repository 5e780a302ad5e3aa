; Started by exec: prints and exits with 5 (its name on the disk is its base name).
.include "user.s"
.include "../ct.s"

main:
    li   r1, s_hi
    call say
    li   r1, 5
    ret
s_hi: .asciz "prog2 here"
