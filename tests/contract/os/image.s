; The whole image, code and data, is readable and writable by the process (brief §9).
.include "user.s"
.include "ct.s"

main:
    li   r1, main               ; read and write a word of our own code
    ld   r8, [r1 + 4]
    st   r8, [r1 + 4]
    ld   r2, [r1 + 4]
    sub  r2, r2, r8
    li   r1, s_code
    call show
    li   r1, table              ; data and a large zero area at the end of the image
    ld   r2, [r1 + 4]
    li   r1, s_data
    call show
    li   r1, area
    ld   r2, [r1 + 8188]
    li   r3, 99
    st   r3, [r1 + 8188]
    ld   r3, [r1 + 8188]
    add  r2, r2, r3
    li   r1, s_area
    call show
    li   r1, 0
    ret
s_code: .asciz "code-rw "
s_data: .asciz "data "
s_area: .asciz "area "
table:  .word 1, 22, 3
area:   .space 8192
