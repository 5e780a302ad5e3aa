; kernel/net.s -- send and recv: the network device for user programs (docs/mobility.md).
;
;   send(buf, len)  sys 18   sends the frame at buf (14 to 1514 bytes: destination, source,
;                            type, data; the device writes the source address). r1 = len,
;                            -1 bad length or no network, -5 bad address.
;   recv(buf, len)  sys 19   takes the next frame that has arrived, if any: copies up to len
;                            bytes of it to buf and returns the frame's length; 0 when no
;                            frame is waiting (it never blocks: guests/os/unet.s's net_recv
;                            sleeps a tick and tries again), -5 bad address.
;
; The device (ports 0x50-0x58) moves frames by DMA to and from physical memory, so the kernel
; keeps two frames of its own, taken at the first call: a receive ring of two 2048-byte
; slots and a buffer for the frame being sent. User bytes are copied through them after
; uaccess has checked the user's pointer, as write and read do. The device's interrupt is
; left off: recv looks at the ring.
;
; A machine without a network device reads 0 from every port; a real device's address
; starts with 0x02, which is how the kernel tells (no network: -1).

.equ NETK_SLOT,  2048
.equ NETK_SLOTS, 2

; net_setup: r1 = 0 when the device is ready (set up on the first call), -1 otherwise.
; Clobbers r1-r3.
net_setup:
    ld   r1, [r0 + net_tx]
    bne  r1, r0, ns_ready
    in   r1, NET_MAC_LO             ; is there a device?
    and  r1, r1, 0xff
    li   r2, 2
    bne  r1, r2, ns_none
    call alloc_frame                ; the receive ring
    beq  r1, r0, ns_none
    mov  r3, r1
    st   r0, [r3]                   ; both slots empty
    st   r0, [r3 + NETK_SLOT]
    out  NET_ADDR, r3
    li   r1, NETK_SLOTS
    out  NET_LEN, r1
    li   r1, 2
    out  NET_CMD, r1
    st   r3, [r0 + net_ring]
    call alloc_frame                ; the send buffer
    beq  r1, r0, ns_none
    st   r1, [r0 + net_tx]
ns_ready:
    li   r1, 0
    ret
ns_none:
    li   r1, E_INVAL
    ret

; send(buf, len) -> len
sys_send:
    call net_setup
    bne  r1, r0, sys_return
    ld   r8, [r10 + 4]              ; r8 = buf
    ld   r9, [r10 + 8]              ; r9 = len
    li   r1, E_INVAL
    li   r2, 14
    blt  r9, r2, sys_return
    li   r2, 1514
    blt  r2, r9, sys_return
    mov  r1, r8
    mov  r2, r9
    call uaccess
    bne  r1, r0, sys_return
    ld   r3, [r0 + net_tx]
    li   r4, 0
snd_copy:
    bgeu r4, r9, snd_go
    add  r1, r8, r4
    ldb  r1, [r1]
    add  r2, r3, r4
    stb  r1, [r2]
    add  r4, r4, 1
    jmp  snd_copy
snd_go:
    out  NET_ADDR, r3
    out  NET_LEN, r9
    li   r1, 1
    out  NET_CMD, r1
    in   r1, NET_CMD
    bne  r1, r0, snd_failed
    mov  r1, r9
    jmp  sys_return
snd_failed:
    li   r1, E_INVAL
    jmp  sys_return

; recv(buf, len) -> the frame's length, or 0 when none has arrived
sys_recv:
    call net_setup
    bne  r1, r0, sys_return
    ld   r8, [r10 + 4]              ; r8 = buf
    ld   r9, [r10 + 8]              ; r9 = len
    li   r1, E_INVAL
    blt  r9, r0, sys_return
    ld   r3, [r0 + net_next]
    shl  r3, r3, 11
    ld   r1, [r0 + net_ring]
    add  r3, r3, r1                 ; r3 = the slot the next frame lands in
    ld   r4, [r3]                   ; r4 = its frame's length (0: none yet)
    li   r1, 0
    beq  r4, r0, sys_return
    bgeu r4, r9, rcv_len            ; r9 = min(len, the frame's length)
    mov  r9, r4
rcv_len:
    push r3
    push r4
    mov  r1, r8
    mov  r2, r9
    call uaccess
    pop  r4
    pop  r3
    bne  r1, r0, sys_return
    li   r5, 0
rcv_copy:
    bgeu r5, r9, rcv_done
    add  r1, r3, r5
    ldb  r1, [r1 + 8]
    add  r2, r8, r5
    stb  r1, [r2]
    add  r5, r5, 1
    jmp  rcv_copy
rcv_done:
    st   r0, [r3]                   ; the slot goes back to the device
    ld   r1, [r0 + net_next]
    add  r1, r1, 1
    and  r1, r1, NETK_SLOTS - 1
    st   r1, [r0 + net_next]
    mov  r1, r4
    jmp  sys_return

    .align 4
net_ring:       .word 0
net_tx:         .word 0
net_next:       .word 0
