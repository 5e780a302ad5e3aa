; Prints once and loops forever: `--max-steps` ends it (status 124).
.include "user.s"
.include "ct.s"
main:
    li   r1, s_spin
    call say
forever:
    jmp  forever
s_spin: .asciz "spinning"
