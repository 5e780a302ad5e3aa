; hello_user.s -- a user program for the code repository demo (guests/mobility/ondemand.s):
; it is not on the OS's disk; exec fetches it.
.include "user.s"

main:
    li   r1, msg
    call puts
    li   r1, 7                      ; its exit status, which the parent prints
    ret

msg: .asciz "hello from a program fetched at run time\n"
