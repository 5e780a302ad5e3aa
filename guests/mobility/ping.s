; ping.s -- one half of a ping-pong pair: send a frame, wait for the answer, print the
; round trip in guest instructions.
;
; Run it:   hv boot guests/mobility/ping.s guests/mobility/pong.s --net
;           (two processes: the same with --net-peer tcp:127.0.0.1:7000, one guest each)
;
; What it does: COUNT times, it broadcasts a frame carrying its sequence number, reads the
; network device's clock (port 0x58, its own instruction count) just before sending, waits
; for pong's answer and subtracts: the answer's slot holds its arrival time.
;
; What it shows:
;   - a device that moves data by DMA in both directions: the frame to send is read from
;     memory, the answer is written into a ring the program set up;
;   - time in a virtual machine is counted in instructions. On one host the switch delivers
;     a frame exactly LATENCY (1000) instructions of the receiver's clock after it was sent,
;     and a waiting guest's clock jumps to the arrival: the round trip is
;     2 × 1000 + pong's work, and it is the same on every run;
;   - across two processes the host cannot promise that: the frame lands when it comes.
;
; What to look for: ping never learns pong's address. It broadcasts; the device stamps the
; source address into every frame it sends, and pong answers to that source.

.equ COUNT, 5
.entry main

main:
    call net_init
    li   r10, 0                     ; r10 = sequence number
    li   r11, 0                     ; r11 = sum of round trips
next_ping:
    li   r1, NET_TX                 ; the frame: broadcast, type, sequence number
    li   r2, -1
    st   r2, [r1]                   ; destination ff:ff:ff:ff:ff:ff
    sth  r2, [r1 + 4]
    li   r2, NET_TYPE
    sth  r2, [r1 + 12]              ; (bytes 6..11, the source, the device fills in)
    st   r10, [r1 + 14]
    in   r12, NET_CLOCK             ; r12 = the time it leaves
    li   r2, 18
    call net_send
    li   r2, 0
    bne  r1, r2, send_failed
    call net_wait                   ; r1 = the answer's slot
    ld   r13, [r1 + 4]              ; its arrival time
    sub  r13, r13, r12              ; r13 = round trip
    ld   r2, [r1 + 8 + 14]          ; the sequence number it echoes
    call net_release
    bne  r2, r10, wrong_answer
    add  r11, r11, r13
    li   r1, msg_ping
    call puts
    mov  r1, r10
    call print_uint
    li   r1, msg_rtt
    call puts
    mov  r1, r13
    call print_uint
    li   r1, msg_instructions
    call puts
    add  r10, r10, 1
    li   r2, COUNT
    bne  r10, r2, next_ping

    li   r1, msg_average
    call puts
    divu r1, r11, COUNT
    call print_uint
    li   r1, msg_instructions
    call puts
    halt

send_failed:
    mov  r2, r1
    li   r1, msg_send_failed
    call puts
    mov  r1, r2
    call print_uint
    call newline
    li   r1, 1
    out  0xFF, r1

wrong_answer:
    li   r1, msg_wrong
    call puts
    li   r1, 2
    out  0xFF, r1

.include "netlib.s"
.include "../lib/io.s"

msg_ping:         .asciz "ping "
msg_rtt:          .asciz ": round trip "
msg_instructions: .asciz " instructions\n"
msg_average:      .asciz "ping: average round trip "
msg_send_failed:  .asciz "ping: send failed, status "
msg_wrong:        .asciz "ping: the answer carries the wrong sequence number\n"
