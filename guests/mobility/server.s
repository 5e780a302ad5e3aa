; server.s -- a server process on one OS, for client.s on another (docs/mobility.md).
;
; Run it:   hv os guests/mobility/server.s --hv --net-peer tcp:127.0.0.1:7001
;           hv os guests/mobility/client.s --hv --net-peer tcp:127.0.0.1:7001   (elsewhere)
;
; What it does: answers REQUESTS requests. A request is a frame whose data is a number; the
; answer, sent back to the request's source address, carries the number and its square.
;
; What it shows: send and recv (system calls 18 and 19, guests/os/unet.s) between processes
; on two machines: two OS instances in two hv processes, joined by their virtual switches.

.include "user.s"
.include "unet.s"

.equ REQUESTS, 3

main:
    li   r8, 0                      ; r8 = requests answered
serve:
    li   r1, frame
    li   r2, 64
    call net_recv                   ; waits for a frame
    li   r2, 18
    blt  r1, r2, serve              ; too short to be a request: ignore it
    li   r1, frame                   ; the answer: to the sender, with the square
    li   r2, answer
    ld   r3, [r1 + 6]               ; its source becomes our destination
    st   r3, [r2]
    ldh  r3, [r1 + 10]
    sth  r3, [r2 + 4]
    ldh  r3, [r1 + 12]              ; same type
    sth  r3, [r2 + 12]
    ld   r3, [r1 + 14]              ; the number
    st   r3, [r2 + 14]
    mul  r3, r3, r3
    st   r3, [r2 + 18]
    li   r1, answer
    li   r2, 22
    call net_send
    add  r8, r8, 1
    li   r2, REQUESTS
    bne  r8, r2, serve
    li   r1, msg_done
    call puts
    li   r1, 0
    ret

msg_done: .asciz "server: answered 3 requests\n"
frame:    .space 64
answer:   .space 64
