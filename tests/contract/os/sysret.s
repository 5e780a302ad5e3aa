; Every system call's result and error codes (brief §9), run as pid 1 with no console input.
.include "user.s"
.include "ct.s"          ; found relative to this file

main:
    sys  7                      ; getpid
    mov  r2, r1
    li   r1, s_getpid
    call show

    li   r1, hello              ; write(buf, len) -> len
    li   r2, 6
    sys  2
    mov  r2, r1
    li   r1, s_write
    call show
    li   r1, hello              ; len 0 -> 0
    li   r2, 0
    sys  2
    mov  r2, r1
    li   r1, s_write0
    call show
    li   r1, 0xFFFFF000         ; the top page is never accessible: -5
    li   r2, 4
    sys  2
    mov  r2, r1
    li   r1, s_writebad
    call show

    li   r1, buf                ; read with no input: 0
    li   r2, 8
    sys  3
    mov  r2, r1
    li   r1, s_read
    call show

    li   r1, nosuch             ; exec of a missing program: -2, and we go on
    sys  5
    mov  r2, r1
    li   r1, s_exec
    call show
    li   r1, 0xFFFFF000         ; exec(bad pointer): -5
    sys  5
    mov  r2, r1
    li   r1, s_execbad
    call show

    li   r1, -1                 ; wait(-1) with no child: -3
    sys  6
    mov  r2, r1
    li   r1, s_waitany
    call show
    li   r1, 1                  ; wait on a non-child (ourselves): -3
    sys  6
    mov  r2, r1
    li   r1, s_waitself
    call show

    li   r1, 12345              ; join a thread that does not exist: -3
    sys  10
    mov  r2, r1
    li   r1, s_join
    call show

    sys  11                     ; yield -> 0
    mov  r2, r1
    li   r1, s_yield
    call show

    li   r1, 2                  ; sleep(2) -> 0
    sys  12
    mov  r2, r1
    li   r1, s_sleep
    call show

    sys  14                     ; clock advances
    mov  r8, r1
    sys  14
    sub  r2, r1, r8
    li   r1, s_clock
    li   r3, 0
    blt  r3, r2, clock_ok
    li   r1, s_clockbad
clock_ok:
    call say

    li   r1, word               ; futex_wait with a differing value: -1
    li   r2, 5
    sys  16
    mov  r2, r1
    li   r1, s_fwait
    call show
    li   r1, word               ; futex_wake with nobody waiting: 0
    li   r2, 3
    sys  17
    mov  r2, r1
    li   r1, s_fwake
    call show
    li   r1, 0xFFFFF000         ; futex_wait(bad address): -5
    li   r2, 0
    sys  16
    mov  r2, r1
    li   r1, s_fwaitbad
    call show

    li   r1, 0                  ; sbrk(0): the end of the heap
    sys  15
    mov  r8, r1
    li   r1, 8192               ; sbrk(8192) returns the same old end
    sys  15
    sub  r2, r1, r8
    li   r1, s_sbrk1
    call show
    li   r1, 0
    sys  15
    sub  r2, r1, r8             ; grew by 8192
    li   r1, s_sbrk2
    call show
    li   r1, 0x5a5a5a5a         ; the new memory is readable and writable
    st   r1, [r8]
    st   r1, [r8 + 8188]
    ld   r2, [r8 + 8188]
    sub  r2, r2, r1
    li   r1, s_sbrkrw
    call show
    li   r1, 0x7ff00000         ; far too much: -4
    sys  15
    mov  r2, r1
    li   r1, s_sbrkbig
    call show

    li   r1, 0
    ret

hello:    .asciz "hello\n"
nosuch:   .asciz "nosuchprogram"
word:     .word 7
buf:      .space 16
s_getpid: .asciz "getpid "
s_write:  .asciz "write "
s_write0: .asciz "write0 "
s_writebad: .asciz "write-bad "
s_read:   .asciz "read-empty "
s_exec:   .asciz "exec-missing "
s_execbad: .asciz "exec-bad "
s_waitany: .asciz "wait-any "
s_waitself: .asciz "wait-self "
s_join:   .asciz "join-none "
s_yield:  .asciz "yield "
s_sleep:  .asciz "sleep "
s_clock:  .asciz "clock advances"
s_clockbad: .asciz "clock STUCK"
s_fwait:  .asciz "futex-wait-differs "
s_fwake:  .asciz "futex-wake-none "
s_fwaitbad: .asciz "futex-wait-bad "
s_sbrk1:  .asciz "sbrk-old "
s_sbrk2:  .asciz "sbrk-grew "
s_sbrkrw: .asciz "sbrk-rw "
s_sbrkbig: .asciz "sbrk-huge "
