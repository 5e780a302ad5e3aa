; Register preservation (brief §9): a system call preserves every register but r1
; (and r2 for wait); a user.s function preserves r8-r14 and sp.
.include "user.s"
.include "ct.s"

main:
    ; sys 7 (getpid)
    li   r0, 0x10101010
    li   r3, 0x03030303
    li   r4, 0x04040404
    li   r5, 0x05050505
    li   r6, 0x06060606
    li   r7, 0x07070707
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, 0
    li   r2, 0x12121212
    sys  7
    li   r1, 0x10101010
    bne  r0, r1, bad_getpid
    li   r1, 0x03030303
    bne  r3, r1, bad_getpid
    li   r1, 0x04040404
    bne  r4, r1, bad_getpid
    li   r1, 0x05050505
    bne  r5, r1, bad_getpid
    li   r1, 0x06060606
    bne  r6, r1, bad_getpid
    li   r1, 0x07070707
    bne  r7, r1, bad_getpid
    li   r1, 0x08080808
    bne  r8, r1, bad_getpid
    li   r1, 0x09090909
    bne  r9, r1, bad_getpid
    li   r1, 0x0a0a0a0a
    bne  r10, r1, bad_getpid
    li   r1, 0x0b0b0b0b
    bne  r11, r1, bad_getpid
    li   r1, 0x0c0c0c0c
    bne  r12, r1, bad_getpid
    li   r1, 0x0d0d0d0d
    bne  r13, r1, bad_getpid
    li   r1, 0x0e0e0e0e
    bne  r14, r1, bad_getpid
    li   r1, 0x12121212
    bne  r2, r1, bad_getpid
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, bad_getpid
    li   r1, ok_getpid
    call say
    jmp  next_getpid
bad_getpid:
    li   r1, no_getpid
    call say
next_getpid:
    ; sys 13 (gettid)
    li   r0, 0x10101010
    li   r3, 0x03030303
    li   r4, 0x04040404
    li   r5, 0x05050505
    li   r6, 0x06060606
    li   r7, 0x07070707
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, 0
    li   r2, 0x12121212
    sys  13
    li   r1, 0x10101010
    bne  r0, r1, bad_gettid
    li   r1, 0x03030303
    bne  r3, r1, bad_gettid
    li   r1, 0x04040404
    bne  r4, r1, bad_gettid
    li   r1, 0x05050505
    bne  r5, r1, bad_gettid
    li   r1, 0x06060606
    bne  r6, r1, bad_gettid
    li   r1, 0x07070707
    bne  r7, r1, bad_gettid
    li   r1, 0x08080808
    bne  r8, r1, bad_gettid
    li   r1, 0x09090909
    bne  r9, r1, bad_gettid
    li   r1, 0x0a0a0a0a
    bne  r10, r1, bad_gettid
    li   r1, 0x0b0b0b0b
    bne  r11, r1, bad_gettid
    li   r1, 0x0c0c0c0c
    bne  r12, r1, bad_gettid
    li   r1, 0x0d0d0d0d
    bne  r13, r1, bad_gettid
    li   r1, 0x0e0e0e0e
    bne  r14, r1, bad_gettid
    li   r1, 0x12121212
    bne  r2, r1, bad_gettid
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, bad_gettid
    li   r1, ok_gettid
    call say
    jmp  next_gettid
bad_gettid:
    li   r1, no_gettid
    call say
next_gettid:
    ; sys 11 (yield)
    li   r0, 0x10101010
    li   r3, 0x03030303
    li   r4, 0x04040404
    li   r5, 0x05050505
    li   r6, 0x06060606
    li   r7, 0x07070707
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, 0
    li   r2, 0x12121212
    sys  11
    li   r1, 0x10101010
    bne  r0, r1, bad_yield
    li   r1, 0x03030303
    bne  r3, r1, bad_yield
    li   r1, 0x04040404
    bne  r4, r1, bad_yield
    li   r1, 0x05050505
    bne  r5, r1, bad_yield
    li   r1, 0x06060606
    bne  r6, r1, bad_yield
    li   r1, 0x07070707
    bne  r7, r1, bad_yield
    li   r1, 0x08080808
    bne  r8, r1, bad_yield
    li   r1, 0x09090909
    bne  r9, r1, bad_yield
    li   r1, 0x0a0a0a0a
    bne  r10, r1, bad_yield
    li   r1, 0x0b0b0b0b
    bne  r11, r1, bad_yield
    li   r1, 0x0c0c0c0c
    bne  r12, r1, bad_yield
    li   r1, 0x0d0d0d0d
    bne  r13, r1, bad_yield
    li   r1, 0x0e0e0e0e
    bne  r14, r1, bad_yield
    li   r1, 0x12121212
    bne  r2, r1, bad_yield
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, bad_yield
    li   r1, ok_yield
    call say
    jmp  next_yield
bad_yield:
    li   r1, no_yield
    call say
next_yield:
    ; sys 14 (clock)
    li   r0, 0x10101010
    li   r3, 0x03030303
    li   r4, 0x04040404
    li   r5, 0x05050505
    li   r6, 0x06060606
    li   r7, 0x07070707
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, 0
    li   r2, 0x12121212
    sys  14
    li   r1, 0x10101010
    bne  r0, r1, bad_clock
    li   r1, 0x03030303
    bne  r3, r1, bad_clock
    li   r1, 0x04040404
    bne  r4, r1, bad_clock
    li   r1, 0x05050505
    bne  r5, r1, bad_clock
    li   r1, 0x06060606
    bne  r6, r1, bad_clock
    li   r1, 0x07070707
    bne  r7, r1, bad_clock
    li   r1, 0x08080808
    bne  r8, r1, bad_clock
    li   r1, 0x09090909
    bne  r9, r1, bad_clock
    li   r1, 0x0a0a0a0a
    bne  r10, r1, bad_clock
    li   r1, 0x0b0b0b0b
    bne  r11, r1, bad_clock
    li   r1, 0x0c0c0c0c
    bne  r12, r1, bad_clock
    li   r1, 0x0d0d0d0d
    bne  r13, r1, bad_clock
    li   r1, 0x0e0e0e0e
    bne  r14, r1, bad_clock
    li   r1, 0x12121212
    bne  r2, r1, bad_clock
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, bad_clock
    li   r1, ok_clock
    call say
    jmp  next_clock
bad_clock:
    li   r1, no_clock
    call say
next_clock:
    ; sys 15 (sbrk)
    li   r0, 0x10101010
    li   r3, 0x03030303
    li   r4, 0x04040404
    li   r5, 0x05050505
    li   r6, 0x06060606
    li   r7, 0x07070707
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, 0
    li   r2, 0x12121212
    sys  15
    li   r1, 0x10101010
    bne  r0, r1, bad_sbrk
    li   r1, 0x03030303
    bne  r3, r1, bad_sbrk
    li   r1, 0x04040404
    bne  r4, r1, bad_sbrk
    li   r1, 0x05050505
    bne  r5, r1, bad_sbrk
    li   r1, 0x06060606
    bne  r6, r1, bad_sbrk
    li   r1, 0x07070707
    bne  r7, r1, bad_sbrk
    li   r1, 0x08080808
    bne  r8, r1, bad_sbrk
    li   r1, 0x09090909
    bne  r9, r1, bad_sbrk
    li   r1, 0x0a0a0a0a
    bne  r10, r1, bad_sbrk
    li   r1, 0x0b0b0b0b
    bne  r11, r1, bad_sbrk
    li   r1, 0x0c0c0c0c
    bne  r12, r1, bad_sbrk
    li   r1, 0x0d0d0d0d
    bne  r13, r1, bad_sbrk
    li   r1, 0x0e0e0e0e
    bne  r14, r1, bad_sbrk
    li   r1, 0x12121212
    bne  r2, r1, bad_sbrk
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, bad_sbrk
    li   r1, ok_sbrk
    call say
    jmp  next_sbrk
bad_sbrk:
    li   r1, no_sbrk
    call say
next_sbrk:
    ; sys 12 (sleep)
    li   r0, 0x10101010
    li   r3, 0x03030303
    li   r4, 0x04040404
    li   r5, 0x05050505
    li   r6, 0x06060606
    li   r7, 0x07070707
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, 1
    li   r2, 0x12121212
    sys  12
    li   r1, 0x10101010
    bne  r0, r1, bad_sleep
    li   r1, 0x03030303
    bne  r3, r1, bad_sleep
    li   r1, 0x04040404
    bne  r4, r1, bad_sleep
    li   r1, 0x05050505
    bne  r5, r1, bad_sleep
    li   r1, 0x06060606
    bne  r6, r1, bad_sleep
    li   r1, 0x07070707
    bne  r7, r1, bad_sleep
    li   r1, 0x08080808
    bne  r8, r1, bad_sleep
    li   r1, 0x09090909
    bne  r9, r1, bad_sleep
    li   r1, 0x0a0a0a0a
    bne  r10, r1, bad_sleep
    li   r1, 0x0b0b0b0b
    bne  r11, r1, bad_sleep
    li   r1, 0x0c0c0c0c
    bne  r12, r1, bad_sleep
    li   r1, 0x0d0d0d0d
    bne  r13, r1, bad_sleep
    li   r1, 0x0e0e0e0e
    bne  r14, r1, bad_sleep
    li   r1, 0x12121212
    bne  r2, r1, bad_sleep
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, bad_sleep
    li   r1, ok_sleep
    call say
    jmp  next_sleep
bad_sleep:
    li   r1, no_sleep
    call say
next_sleep:
    ; sys 2 (write)
    li   r0, 0x10101010
    li   r3, 0x03030303
    li   r4, 0x04040404
    li   r5, 0x05050505
    li   r6, 0x06060606
    li   r7, 0x07070707
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, dot
    li   r2, 1
    sys  2
    li   r1, 0x10101010
    bne  r0, r1, bad_write
    li   r1, 0x03030303
    bne  r3, r1, bad_write
    li   r1, 0x04040404
    bne  r4, r1, bad_write
    li   r1, 0x05050505
    bne  r5, r1, bad_write
    li   r1, 0x06060606
    bne  r6, r1, bad_write
    li   r1, 0x07070707
    bne  r7, r1, bad_write
    li   r1, 0x08080808
    bne  r8, r1, bad_write
    li   r1, 0x09090909
    bne  r9, r1, bad_write
    li   r1, 0x0a0a0a0a
    bne  r10, r1, bad_write
    li   r1, 0x0b0b0b0b
    bne  r11, r1, bad_write
    li   r1, 0x0c0c0c0c
    bne  r12, r1, bad_write
    li   r1, 0x0d0d0d0d
    bne  r13, r1, bad_write
    li   r1, 0x0e0e0e0e
    bne  r14, r1, bad_write
    li   r1, 1
    bne  r2, r1, bad_write
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, bad_write
    li   r1, ok_write
    call say
    jmp  next_write
bad_write:
    li   r1, no_write
    call say
next_write:
    ; sys 3 (read)
    li   r0, 0x10101010
    li   r3, 0x03030303
    li   r4, 0x04040404
    li   r5, 0x05050505
    li   r6, 0x06060606
    li   r7, 0x07070707
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, rbuf
    li   r2, 16
    sys  3
    li   r1, 0x10101010
    bne  r0, r1, bad_read
    li   r1, 0x03030303
    bne  r3, r1, bad_read
    li   r1, 0x04040404
    bne  r4, r1, bad_read
    li   r1, 0x05050505
    bne  r5, r1, bad_read
    li   r1, 0x06060606
    bne  r6, r1, bad_read
    li   r1, 0x07070707
    bne  r7, r1, bad_read
    li   r1, 0x08080808
    bne  r8, r1, bad_read
    li   r1, 0x09090909
    bne  r9, r1, bad_read
    li   r1, 0x0a0a0a0a
    bne  r10, r1, bad_read
    li   r1, 0x0b0b0b0b
    bne  r11, r1, bad_read
    li   r1, 0x0c0c0c0c
    bne  r12, r1, bad_read
    li   r1, 0x0d0d0d0d
    bne  r13, r1, bad_read
    li   r1, 0x0e0e0e0e
    bne  r14, r1, bad_read
    li   r1, 16
    bne  r2, r1, bad_read
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, bad_read
    li   r1, ok_read
    call say
    jmp  next_read
bad_read:
    li   r1, no_read
    call say
next_read:
    ; sys 5 (exec)
    li   r0, 0x10101010
    li   r3, 0x03030303
    li   r4, 0x04040404
    li   r5, 0x05050505
    li   r6, 0x06060606
    li   r7, 0x07070707
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, nosuch
    li   r2, 0x12121212
    sys  5
    li   r1, 0x10101010
    bne  r0, r1, bad_exec
    li   r1, 0x03030303
    bne  r3, r1, bad_exec
    li   r1, 0x04040404
    bne  r4, r1, bad_exec
    li   r1, 0x05050505
    bne  r5, r1, bad_exec
    li   r1, 0x06060606
    bne  r6, r1, bad_exec
    li   r1, 0x07070707
    bne  r7, r1, bad_exec
    li   r1, 0x08080808
    bne  r8, r1, bad_exec
    li   r1, 0x09090909
    bne  r9, r1, bad_exec
    li   r1, 0x0a0a0a0a
    bne  r10, r1, bad_exec
    li   r1, 0x0b0b0b0b
    bne  r11, r1, bad_exec
    li   r1, 0x0c0c0c0c
    bne  r12, r1, bad_exec
    li   r1, 0x0d0d0d0d
    bne  r13, r1, bad_exec
    li   r1, 0x0e0e0e0e
    bne  r14, r1, bad_exec
    li   r1, 0x12121212
    bne  r2, r1, bad_exec
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, bad_exec
    li   r1, ok_exec
    call say
    jmp  next_exec
bad_exec:
    li   r1, no_exec
    call say
next_exec:
    ; sys 10 (join)
    li   r0, 0x10101010
    li   r3, 0x03030303
    li   r4, 0x04040404
    li   r5, 0x05050505
    li   r6, 0x06060606
    li   r7, 0x07070707
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, 999
    li   r2, 0x12121212
    sys  10
    li   r1, 0x10101010
    bne  r0, r1, bad_join
    li   r1, 0x03030303
    bne  r3, r1, bad_join
    li   r1, 0x04040404
    bne  r4, r1, bad_join
    li   r1, 0x05050505
    bne  r5, r1, bad_join
    li   r1, 0x06060606
    bne  r6, r1, bad_join
    li   r1, 0x07070707
    bne  r7, r1, bad_join
    li   r1, 0x08080808
    bne  r8, r1, bad_join
    li   r1, 0x09090909
    bne  r9, r1, bad_join
    li   r1, 0x0a0a0a0a
    bne  r10, r1, bad_join
    li   r1, 0x0b0b0b0b
    bne  r11, r1, bad_join
    li   r1, 0x0c0c0c0c
    bne  r12, r1, bad_join
    li   r1, 0x0d0d0d0d
    bne  r13, r1, bad_join
    li   r1, 0x0e0e0e0e
    bne  r14, r1, bad_join
    li   r1, 0x12121212
    bne  r2, r1, bad_join
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, bad_join
    li   r1, ok_join
    call say
    jmp  next_join
bad_join:
    li   r1, no_join
    call say
next_join:
    ; sys 16 (futex_wait)
    li   r0, 0x10101010
    li   r3, 0x03030303
    li   r4, 0x04040404
    li   r5, 0x05050505
    li   r6, 0x06060606
    li   r7, 0x07070707
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, fword
    li   r2, 0x12121212
    sys  16
    li   r1, 0x10101010
    bne  r0, r1, bad_futex_wait
    li   r1, 0x03030303
    bne  r3, r1, bad_futex_wait
    li   r1, 0x04040404
    bne  r4, r1, bad_futex_wait
    li   r1, 0x05050505
    bne  r5, r1, bad_futex_wait
    li   r1, 0x06060606
    bne  r6, r1, bad_futex_wait
    li   r1, 0x07070707
    bne  r7, r1, bad_futex_wait
    li   r1, 0x08080808
    bne  r8, r1, bad_futex_wait
    li   r1, 0x09090909
    bne  r9, r1, bad_futex_wait
    li   r1, 0x0a0a0a0a
    bne  r10, r1, bad_futex_wait
    li   r1, 0x0b0b0b0b
    bne  r11, r1, bad_futex_wait
    li   r1, 0x0c0c0c0c
    bne  r12, r1, bad_futex_wait
    li   r1, 0x0d0d0d0d
    bne  r13, r1, bad_futex_wait
    li   r1, 0x0e0e0e0e
    bne  r14, r1, bad_futex_wait
    li   r1, 0x12121212
    bne  r2, r1, bad_futex_wait
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, bad_futex_wait
    li   r1, ok_futex_wait
    call say
    jmp  next_futex_wait
bad_futex_wait:
    li   r1, no_futex_wait
    call say
next_futex_wait:
    ; sys 17 (futex_wake)
    li   r0, 0x10101010
    li   r3, 0x03030303
    li   r4, 0x04040404
    li   r5, 0x05050505
    li   r6, 0x06060606
    li   r7, 0x07070707
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, fword
    li   r2, 4
    sys  17
    li   r1, 0x10101010
    bne  r0, r1, bad_futex_wake
    li   r1, 0x03030303
    bne  r3, r1, bad_futex_wake
    li   r1, 0x04040404
    bne  r4, r1, bad_futex_wake
    li   r1, 0x05050505
    bne  r5, r1, bad_futex_wake
    li   r1, 0x06060606
    bne  r6, r1, bad_futex_wake
    li   r1, 0x07070707
    bne  r7, r1, bad_futex_wake
    li   r1, 0x08080808
    bne  r8, r1, bad_futex_wake
    li   r1, 0x09090909
    bne  r9, r1, bad_futex_wake
    li   r1, 0x0a0a0a0a
    bne  r10, r1, bad_futex_wake
    li   r1, 0x0b0b0b0b
    bne  r11, r1, bad_futex_wake
    li   r1, 0x0c0c0c0c
    bne  r12, r1, bad_futex_wake
    li   r1, 0x0d0d0d0d
    bne  r13, r1, bad_futex_wake
    li   r1, 0x0e0e0e0e
    bne  r14, r1, bad_futex_wake
    li   r1, 4
    bne  r2, r1, bad_futex_wake
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, bad_futex_wake
    li   r1, ok_futex_wake
    call say
    jmp  next_futex_wake
bad_futex_wake:
    li   r1, no_futex_wake
    call say
next_futex_wake:
    ; sys 6 (wait)
    li   r0, 0x10101010
    li   r3, 0x03030303
    li   r4, 0x04040404
    li   r5, 0x05050505
    li   r6, 0x06060606
    li   r7, 0x07070707
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, -1
    li   r2, 0x12121212
    sys  6
    li   r1, 0x10101010
    bne  r0, r1, bad_wait
    li   r1, 0x03030303
    bne  r3, r1, bad_wait
    li   r1, 0x04040404
    bne  r4, r1, bad_wait
    li   r1, 0x05050505
    bne  r5, r1, bad_wait
    li   r1, 0x06060606
    bne  r6, r1, bad_wait
    li   r1, 0x07070707
    bne  r7, r1, bad_wait
    li   r1, 0x08080808
    bne  r8, r1, bad_wait
    li   r1, 0x09090909
    bne  r9, r1, bad_wait
    li   r1, 0x0a0a0a0a
    bne  r10, r1, bad_wait
    li   r1, 0x0b0b0b0b
    bne  r11, r1, bad_wait
    li   r1, 0x0c0c0c0c
    bne  r12, r1, bad_wait
    li   r1, 0x0d0d0d0d
    bne  r13, r1, bad_wait
    li   r1, 0x0e0e0e0e
    bne  r14, r1, bad_wait
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, bad_wait
    li   r1, ok_wait
    call say
    jmp  next_wait
bad_wait:
    li   r1, no_wait
    call say
next_wait:
    ; sys 99 (badcall)
    li   r0, 0x10101010
    li   r3, 0x03030303
    li   r4, 0x04040404
    li   r5, 0x05050505
    li   r6, 0x06060606
    li   r7, 0x07070707
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, 0
    li   r2, 0x12121212
    sys  99
    li   r1, 0x10101010
    bne  r0, r1, bad_badcall
    li   r1, 0x03030303
    bne  r3, r1, bad_badcall
    li   r1, 0x04040404
    bne  r4, r1, bad_badcall
    li   r1, 0x05050505
    bne  r5, r1, bad_badcall
    li   r1, 0x06060606
    bne  r6, r1, bad_badcall
    li   r1, 0x07070707
    bne  r7, r1, bad_badcall
    li   r1, 0x08080808
    bne  r8, r1, bad_badcall
    li   r1, 0x09090909
    bne  r9, r1, bad_badcall
    li   r1, 0x0a0a0a0a
    bne  r10, r1, bad_badcall
    li   r1, 0x0b0b0b0b
    bne  r11, r1, bad_badcall
    li   r1, 0x0c0c0c0c
    bne  r12, r1, bad_badcall
    li   r1, 0x0d0d0d0d
    bne  r13, r1, bad_badcall
    li   r1, 0x0e0e0e0e
    bne  r14, r1, bad_badcall
    li   r1, 0x12121212
    bne  r2, r1, bad_badcall
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, bad_badcall
    li   r1, ok_badcall
    call say
    jmp  next_badcall
bad_badcall:
    li   r1, no_badcall
    call say
next_badcall:
    ; puts()
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, dot
    call puts
    li   r1, 0x08080808
    bne  r8, r1, fbad_puts
    li   r1, 0x09090909
    bne  r9, r1, fbad_puts
    li   r1, 0x0a0a0a0a
    bne  r10, r1, fbad_puts
    li   r1, 0x0b0b0b0b
    bne  r11, r1, fbad_puts
    li   r1, 0x0c0c0c0c
    bne  r12, r1, fbad_puts
    li   r1, 0x0d0d0d0d
    bne  r13, r1, fbad_puts
    li   r1, 0x0e0e0e0e
    bne  r14, r1, fbad_puts
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, fbad_puts
    li   r1, fok_puts
    call say
    jmp  fnext_puts
fbad_puts:
    li   r1, fno_puts
    call say
fnext_puts:
    ; print_dec()
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, 4294967295
    call print_dec
    li   r1, 0x08080808
    bne  r8, r1, fbad_print_dec
    li   r1, 0x09090909
    bne  r9, r1, fbad_print_dec
    li   r1, 0x0a0a0a0a
    bne  r10, r1, fbad_print_dec
    li   r1, 0x0b0b0b0b
    bne  r11, r1, fbad_print_dec
    li   r1, 0x0c0c0c0c
    bne  r12, r1, fbad_print_dec
    li   r1, 0x0d0d0d0d
    bne  r13, r1, fbad_print_dec
    li   r1, 0x0e0e0e0e
    bne  r14, r1, fbad_print_dec
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, fbad_print_dec
    li   r1, fok_print_dec
    call say
    jmp  fnext_print_dec
fbad_print_dec:
    li   r1, fno_print_dec
    call say
fnext_print_dec:
    ; print_hex()
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, 0xdeadbeef
    call print_hex
    li   r1, 0x08080808
    bne  r8, r1, fbad_print_hex
    li   r1, 0x09090909
    bne  r9, r1, fbad_print_hex
    li   r1, 0x0a0a0a0a
    bne  r10, r1, fbad_print_hex
    li   r1, 0x0b0b0b0b
    bne  r11, r1, fbad_print_hex
    li   r1, 0x0c0c0c0c
    bne  r12, r1, fbad_print_hex
    li   r1, 0x0d0d0d0d
    bne  r13, r1, fbad_print_hex
    li   r1, 0x0e0e0e0e
    bne  r14, r1, fbad_print_hex
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, fbad_print_hex
    li   r1, fok_print_hex
    call say
    jmp  fnext_print_hex
fbad_print_hex:
    li   r1, fno_print_hex
    call say
fnext_print_hex:
    ; mutex_lock()
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, mtx
    call mutex_lock
    li   r1, 0x08080808
    bne  r8, r1, fbad_mutex_lock
    li   r1, 0x09090909
    bne  r9, r1, fbad_mutex_lock
    li   r1, 0x0a0a0a0a
    bne  r10, r1, fbad_mutex_lock
    li   r1, 0x0b0b0b0b
    bne  r11, r1, fbad_mutex_lock
    li   r1, 0x0c0c0c0c
    bne  r12, r1, fbad_mutex_lock
    li   r1, 0x0d0d0d0d
    bne  r13, r1, fbad_mutex_lock
    li   r1, 0x0e0e0e0e
    bne  r14, r1, fbad_mutex_lock
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, fbad_mutex_lock
    li   r1, fok_mutex_lock
    call say
    jmp  fnext_mutex_lock
fbad_mutex_lock:
    li   r1, fno_mutex_lock
    call say
fnext_mutex_lock:
    ; mutex_unlock()
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, mtx
    call mutex_unlock
    li   r1, 0x08080808
    bne  r8, r1, fbad_mutex_unlock
    li   r1, 0x09090909
    bne  r9, r1, fbad_mutex_unlock
    li   r1, 0x0a0a0a0a
    bne  r10, r1, fbad_mutex_unlock
    li   r1, 0x0b0b0b0b
    bne  r11, r1, fbad_mutex_unlock
    li   r1, 0x0c0c0c0c
    bne  r12, r1, fbad_mutex_unlock
    li   r1, 0x0d0d0d0d
    bne  r13, r1, fbad_mutex_unlock
    li   r1, 0x0e0e0e0e
    bne  r14, r1, fbad_mutex_unlock
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, fbad_mutex_unlock
    li   r1, fok_mutex_unlock
    call say
    jmp  fnext_mutex_unlock
fbad_mutex_unlock:
    li   r1, fno_mutex_unlock
    call say
fnext_mutex_unlock:
    ; uthread_yield()
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, 0
    call uthread_yield
    li   r1, 0x08080808
    bne  r8, r1, fbad_uthread_yield
    li   r1, 0x09090909
    bne  r9, r1, fbad_uthread_yield
    li   r1, 0x0a0a0a0a
    bne  r10, r1, fbad_uthread_yield
    li   r1, 0x0b0b0b0b
    bne  r11, r1, fbad_uthread_yield
    li   r1, 0x0c0c0c0c
    bne  r12, r1, fbad_uthread_yield
    li   r1, 0x0d0d0d0d
    bne  r13, r1, fbad_uthread_yield
    li   r1, 0x0e0e0e0e
    bne  r14, r1, fbad_uthread_yield
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, fbad_uthread_yield
    li   r1, fok_uthread_yield
    call say
    jmp  fnext_uthread_yield
fbad_uthread_yield:
    li   r1, fno_uthread_yield
    call say
fnext_uthread_yield:
    ; getpid()
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, 0
    call getpid
    li   r1, 0x08080808
    bne  r8, r1, fbad_getpid
    li   r1, 0x09090909
    bne  r9, r1, fbad_getpid
    li   r1, 0x0a0a0a0a
    bne  r10, r1, fbad_getpid
    li   r1, 0x0b0b0b0b
    bne  r11, r1, fbad_getpid
    li   r1, 0x0c0c0c0c
    bne  r12, r1, fbad_getpid
    li   r1, 0x0d0d0d0d
    bne  r13, r1, fbad_getpid
    li   r1, 0x0e0e0e0e
    bne  r14, r1, fbad_getpid
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, fbad_getpid
    li   r1, fok_getpid
    call say
    jmp  fnext_getpid
fbad_getpid:
    li   r1, fno_getpid
    call say
fnext_getpid:
    ; write()
    li   r8, 0x08080808
    li   r9, 0x09090909
    li   r10, 0x0a0a0a0a
    li   r11, 0x0b0b0b0b
    li   r12, 0x0c0c0c0c
    li   r13, 0x0d0d0d0d
    li   r14, 0x0e0e0e0e
    li   r1, spsave
    st   sp, [r1]
    li   r1, dot
    call write
    li   r1, 0x08080808
    bne  r8, r1, fbad_write
    li   r1, 0x09090909
    bne  r9, r1, fbad_write
    li   r1, 0x0a0a0a0a
    bne  r10, r1, fbad_write
    li   r1, 0x0b0b0b0b
    bne  r11, r1, fbad_write
    li   r1, 0x0c0c0c0c
    bne  r12, r1, fbad_write
    li   r1, 0x0d0d0d0d
    bne  r13, r1, fbad_write
    li   r1, 0x0e0e0e0e
    bne  r14, r1, fbad_write
    li   r1, spsave
    ld   r1, [r1]
    bne  sp, r1, fbad_write
    li   r1, fok_write
    call say
    jmp  fnext_write
fbad_write:
    li   r1, fno_write
    call say
fnext_write:
    li   r1, 0
    ret

ok_getpid: .asciz " sys getpid preserves"
no_getpid: .asciz " sys getpid CLOBBERS"
ok_gettid: .asciz " sys gettid preserves"
no_gettid: .asciz " sys gettid CLOBBERS"
ok_yield: .asciz " sys yield preserves"
no_yield: .asciz " sys yield CLOBBERS"
ok_clock: .asciz " sys clock preserves"
no_clock: .asciz " sys clock CLOBBERS"
ok_sbrk: .asciz " sys sbrk preserves"
no_sbrk: .asciz " sys sbrk CLOBBERS"
ok_sleep: .asciz " sys sleep preserves"
no_sleep: .asciz " sys sleep CLOBBERS"
ok_write: .asciz " sys write preserves"
no_write: .asciz " sys write CLOBBERS"
ok_read: .asciz " sys read preserves"
no_read: .asciz " sys read CLOBBERS"
ok_exec: .asciz " sys exec preserves"
no_exec: .asciz " sys exec CLOBBERS"
ok_join: .asciz " sys join preserves"
no_join: .asciz " sys join CLOBBERS"
ok_futex_wait: .asciz " sys futex_wait preserves"
no_futex_wait: .asciz " sys futex_wait CLOBBERS"
ok_futex_wake: .asciz " sys futex_wake preserves"
no_futex_wake: .asciz " sys futex_wake CLOBBERS"
ok_wait: .asciz " sys wait preserves"
no_wait: .asciz " sys wait CLOBBERS"
ok_badcall: .asciz " sys badcall preserves"
no_badcall: .asciz " sys badcall CLOBBERS"
fok_puts: .asciz " puts preserves"
fno_puts: .asciz " puts CLOBBERS"
fok_print_dec: .asciz " print_dec preserves"
fno_print_dec: .asciz " print_dec CLOBBERS"
fok_print_hex: .asciz " print_hex preserves"
fno_print_hex: .asciz " print_hex CLOBBERS"
fok_mutex_lock: .asciz " mutex_lock preserves"
fno_mutex_lock: .asciz " mutex_lock CLOBBERS"
fok_mutex_unlock: .asciz " mutex_unlock preserves"
fno_mutex_unlock: .asciz " mutex_unlock CLOBBERS"
fok_uthread_yield: .asciz " uthread_yield preserves"
fno_uthread_yield: .asciz " uthread_yield CLOBBERS"
fok_getpid: .asciz " getpid preserves"
fno_getpid: .asciz " getpid CLOBBERS"
fok_write: .asciz " write preserves"
fno_write: .asciz " write CLOBBERS"
dot:    .asciz "."
nosuch: .asciz "nosuch"
fword:  .word 0
mtx:    .word 0
spsave: .word 0
rbuf:   .space 16
