; child.s -- a program for the tests to exec: exits with status 77, or with what its
; first argument says when a test wants more (it takes none here: exec passes nothing).
.include "user.s"

main:
    li   r1, 77
    ret
