; pong.s -- the other half of ping.s: answer COUNT frames, each to its sender.
;
; Run it:   hv boot guests/mobility/ping.s guests/mobility/pong.s --net
;
; What it does: waits for a frame, builds the answer (destination = the frame's source,
; same type, same sequence number), hands the slot back to the device, and sends.
;
; What to look for: pong spends its time waiting in `wfi`. Under the hypervisor that costs
; the host nothing: the guest does not run until a frame is due, and then its clock jumps
; to the frame's arrival time.

.equ COUNT, 5
.entry main

main:
    call net_init
    li   r10, 0
next_frame:
    call net_wait                   ; r1 = the slot
    add  r2, r1, 8                  ; r2 = the frame in it
    li   r3, NET_TX
    ld   r4, [r2 + 6]               ; the sender's address becomes the destination
    st   r4, [r3]
    ldh  r4, [r2 + 10]
    sth  r4, [r3 + 4]
    ldh  r4, [r2 + 12]              ; same type
    sth  r4, [r3 + 12]
    ld   r4, [r2 + 14]              ; same sequence number
    st   r4, [r3 + 14]
    call net_release
    li   r1, NET_TX
    li   r2, 18
    call net_send
    add  r10, r10, 1
    li   r2, COUNT
    bne  r10, r2, next_frame
    li   r1, msg_done
    call puts
    halt

.include "netlib.s"
.include "../lib/io.s"

msg_done: .asciz "pong: answered 5 pings\n"
