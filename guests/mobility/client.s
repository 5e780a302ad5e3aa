; client.s -- a client process on one OS asks server.s on another (docs/mobility.md).
;
; Run it:   hv os guests/mobility/server.s --hv --net-peer tcp:127.0.0.1:7001
;           hv os guests/mobility/client.s --hv --net-peer tcp:127.0.0.1:7001
;
; What it does: for 3, 4 and 5, broadcasts a request carrying the number, waits for the
; answer and prints it. It never learns the server's address: the answer's source is it.

.include "user.s"
.include "unet.s"

main:
    li   r8, 3                      ; r8 = the number to ask about
ask:
    li   r1, request
    li   r2, -1
    st   r2, [r1]                   ; to everybody (ff:ff:ff:ff:ff:ff)
    sth  r2, [r1 + 4]
    li   r2, 0xB588                 ; type 0x88B5, in the frame's byte order
    sth  r2, [r1 + 12]
    st   r8, [r1 + 14]
    li   r2, 18
    call net_send
    li   r2, 18
    bne  r1, r2, failed
wait_answer:
    li   r1, answer
    li   r2, 64
    call net_recv
    li   r2, 22
    blt  r1, r2, wait_answer
    li   r1, answer
    ld   r2, [r1 + 14]
    bne  r2, r8, wait_answer        ; not the answer to this question
    li   r1, msg_ask
    call puts
    mov  r1, r8
    call print_dec
    li   r1, msg_squared
    call puts
    li   r1, answer
    ld   r1, [r1 + 18]
    call print_dec
    li   r1, nl
    call puts
    add  r8, r8, 1
    li   r2, 6
    bne  r8, r2, ask
    li   r1, 0
    ret
failed:
    li   r1, msg_failed
    call puts
    li   r1, 1
    ret

msg_ask:     .asciz "client: the server says "
msg_squared: .asciz " squared is "
msg_failed:  .asciz "client: send failed\n"
nl:          .asciz "\n"
request:     .space 64
answer:      .space 64
