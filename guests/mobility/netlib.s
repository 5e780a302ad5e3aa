; netlib.s -- the network device, for kernel-mode programs (ping.s, pong.s).
;
; The device (ports 0x50-0x58, docs/isa.md) sends a frame by DMA from a buffer and receives
; frames by DMA into a ring of slots that the program owns:
;
;   slot i at RING + 2048*i:   word 0  length of the frame, 0 = empty (the device may fill it)
;                              word 1  arrival time: the receiver's instruction count
;                              bytes 8.. the frame: destination (6), source (6), type (2), data
;
; The device fills the slots in turn and raises the device interrupt (cause 17) when a frame
; lands; the program reads the slot and hands it back by writing 0 to its length.
;
; Routines (they preserve every register but r1, the result):
;   net_init      set evec, the receive ring and the interrupt
;   net_send      send r2 bytes from address r1; r1 = status (0 ok)
;   net_wait      wait for the next frame; r1 = its slot
;   net_release   give the slot r1 back to the device
;
; Waiting without a race: check the slot with interrupts off, `wfi` (it wakes when an
; interrupt is pending, even with interrupts off), then `sti` to take the interrupt and
; `cli` again before checking. Under the hypervisor a guest in `wfi` idles: its instruction
; count jumps to the frame's arrival, so the round trip it measures is the same every run.
;
; Labels start with `net_`; it uses print routines from ../lib/io.s.

.include "../lib/hw.s"             ; NET_ADDR, NET_LEN, NET_CMD, NET_IRQ, NET_CLOCK (generated)
.equ NET_SEND, 1
.equ NET_SET_RING, 2
.equ NET_SLOT, 2048
.equ NET_SLOTS, 4
.equ NET_RING, 0x8000               ; 4 slots: 0x8000-0x9FFF
.equ NET_TX, 0xA000                 ; a buffer for frames to send
.equ NET_TYPE, 0xB588               ; type 0x88B5 (local experimental), stored little-endian

net_init:
    push r1
    li   r1, net_on_trap
    mtcr evec, r1
    li   r1, NET_RING
    out  NET_ADDR, r1
    li   r1, NET_SLOTS
    out  NET_LEN, r1
    li   r1, NET_SET_RING
    out  NET_CMD, r1
    li   r1, 1
    out  NET_IRQ, r1
    pop  r1
    ret

; The device interrupt only has to end the wait; anything else is a bug: say so and stop.
net_on_trap:
    push r1
    push r2
    mfcr r1, cause
    li   r2, 17
    bne  r1, r2, net_bad_trap
    pop  r2
    pop  r1
    iret
net_bad_trap:
    li   r1, net_msg_trap
    call puts
    mfcr r1, cause
    call print_uint
    call newline
    li   r1, 99
    out  0xFF, r1

net_send:
    out  NET_ADDR, r1
    out  NET_LEN, r2
    li   r1, NET_SEND
    out  NET_CMD, r1
    in   r1, NET_CMD
    ret

net_wait:
    push r2
    push r3
    li   r2, net_next
    ld   r2, [r2]
    mul  r2, r2, NET_SLOT
    add  r2, r2, NET_RING           ; r2 = the slot the next frame will land in
    li   r3, 0
    cli
net_w_check:
    ld   r1, [r2]
    bne  r1, r3, net_w_got
    wfi
    sti                             ; take the interrupt that woke us
    cli
    jmp  net_w_check
net_w_got:
    sti
    mov  r1, r2
    pop  r3
    pop  r2
    ret

net_release:
    push r2
    push r3
    li   r2, 0
    st   r2, [r1]
    li   r3, net_next
    ld   r2, [r3]
    add  r2, r2, 1
    remu r2, r2, NET_SLOTS
    st   r2, [r3]
    pop  r3
    pop  r2
    ret

net_next:      .word 0
net_msg_trap:  .asciz "unexpected trap, cause "
