; puts/print_dec/print_hex formats, console input through read, getpid under exec.
.include "user.s"
.include "ct.s"

main:
    li   r1, empty              ; puts adds nothing
    call puts
    li   r1, esc
    call puts
    li   r1, 0
    call print_dec
    call nl
    li   r1, 10
    call print_dec
    call nl
    li   r1, 0x80000000         ; unsigned
    call print_dec
    call nl
    li   r1, -1
    call print_dec
    call nl
    li   r1, 0xdeadbeef
    call print_hex
    call nl
    li   r1, 0xABC
    call print_hex
    call nl
    li   r1, 0
    call print_hex
    call nl
    ; read the whole console input, in pieces of at most 4 bytes, echo it back in brackets
    li   r8, 0                  ; total
rd:
    li   r1, inbuf
    add  r1, r1, r8
    li   r2, 4
    call read
    li   r2, 0
    beq  r1, r2, rd_done
    add  r8, r8, r1
    jmp  rd
rd_done:
    li   r1, lb
    call puts
    li   r1, inbuf
    mov  r2, r8
    call write
    li   r1, rb
    call puts
    mov  r2, r8
    li   r1, s_total
    call show
    li   r1, inbuf              ; once used up, read keeps giving 0
    li   r2, 4
    call read
    mov  r2, r1
    li   r1, s_after
    call show
    li   r1, 3
    ret
nl:
    li   r1, ct_nl
    jmp  puts                   ; tail call

empty:  .asciz ""
esc:    .asciz "tab\there \\ \"q\" \x41\x42\n"
lb:     .asciz "["
rb:     .asciz "]\n"
s_total: .asciz "read-total "
s_after: .asciz "read-after "
inbuf:  .space 64
