; unet.s -- the network for user programs of the teaching OS (docs/mobility.md).
;
; Include it after user.s:   .include "user.s"
;                            .include "unet.s"
;
; It is a separate file so that user.s keeps only the names of the fixed ABI (a program
; that does not use the network may call its own functions net_send or net_recv).
;
;   net_send(buf, len)   send a frame (destination 6 bytes, source 6 — the device fills
;                        it in —, type 2, data): r1 = len, or -1 / -5
;   net_recv(buf, len)   wait for the next frame and copy up to len bytes of it to buf:
;                        r1 = the frame's length (or -1 without a network, -5 bad buf).
;                        The system call never blocks; this waits one timer tick
;                        (sleep(1)) between tries, so other threads run meanwhile.

net_send:
    sys  18
    ret

net_recv:
    mov  r3, r1
    mov  r4, r2
__nr_again:
    mov  r1, r3
    mov  r2, r4
    sys  19
    li   r5, 0
    bne  r1, r5, __nr_done
    li   r1, 1
    sys  12                         ; sleep(1)
    jmp  __nr_again
__nr_done:
    ret
