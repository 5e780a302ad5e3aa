; flood.s -- a guest that floods the network: 400 full-size broadcast frames, as fast as it
; can. Each frame is read by DMA, which draws on the guest's I/O tokens (the same bucket as
; its console and disk): when they run out, the flooder loses the rest of its slice.
;
; Run it:   hv boot guests/mobility/flood.s guests/mobility/pong.s --net --stats
;
; What to look for: the flooder's slices are cut short (`--stats`: "throttled"); pong, whose
; ring holds 4 frames, drops the rest (counted as "receive ring full") and still answers its
; five pings; every send succeeds (status 0): dropping is the receiver's business.

.equ FRAMES, 400
.entry main

main:
    li   r1, NET_ADDR               ; (no receive ring: frames to us would be dropped)
    li   r10, 0                     ; frames sent
    li   r11, 0                     ; sends refused (a status other than 0)
    li   r12, 0                     ; loop counter
    li   r1, NET_TX
    li   r2, -1
    st   r2, [r1]
    sth  r2, [r1 + 4]
flood:
    li   r1, NET_TX
    li   r2, 1514
    call net_send
    li   r2, 0
    beq  r1, r2, sent
    add  r11, r11, 1
    jmp  counted
sent:
    add  r10, r10, 1
counted:
    add  r12, r12, 1
    li   r2, FRAMES
    bne  r12, r2, flood
    li   r1, msg_sent
    call puts
    mov  r1, r10
    call print_uint
    li   r1, msg_refused
    call puts
    mov  r1, r11
    call print_uint
    call newline
    halt

.include "netlib.s"
.include "../lib/io.s"

msg_sent:    .asciz "flood: sent "
msg_refused: .asciz ", refused "
