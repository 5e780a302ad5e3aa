; user.s -- the user library of the teaching OS (guests/os/): start-up, system calls,
; printing, mutexes and user-level threads.
;
; A user program starts with `.include "user.s"` (`hv os` puts this directory on the
; include path) and defines `main`:
;
;       .include "user.s"
;       main:
;           li   r1, hello
;           call puts
;           li   r1, 0              ; main's r1 is the exit status
;           ret
;       hello: .asciz "hello\n"
;
; The fixed ABI (brief §9, docs/os.md):
;   - functions here take arguments in r1-r4 and return in r1 (and r2 where stated); they
;     may clobber r1-r7 and preserve r8-r14 and sp;
;   - a system call is `sys N` with arguments in r1-r4 and the result in r1 (wait: also
;     r2); every other register is preserved; errors are negative (-1 invalid argument,
;     -2 no such program, -3 no such child or thread, -4 out of processes, threads or
;     memory, -5 bad address). Each call has a wrapper of the same name below.
;   - every label here other than the documented names starts with `__`, so programs may
;     use any other name.
;
; The image is loaded at 0x00400000 and starts at its first byte, so the start-up code
; must come first: a program includes this file before anything else. The second thing,
; at 0x00400005, is where every new kernel thread returns to when its entry function
; returns (the kernel pushes that address): `sys 9`, thread_exit with the returned r1.

    .org 0x00400000
__start:
    jmp  __start_main
__thread_return:                ; 0x00400005, known to the kernel (THREAD_RETURN)
    sys  9
__start_main:
    call main
    sys  1                      ; exit(main's r1); does not return

; --- System calls -------------------------------------------------------------------------

exit:           sys 1
                ret
write:          sys 2
                ret
read:           sys 3
                ret
fork:           sys 4
                ret
exec:           sys 5
                ret
wait:           sys 6
                ret
getpid:         sys 7
                ret
thread_create:  sys 8
                ret
thread_exit:    sys 9
                ret
thread_join:    sys 10
                ret
yield:          sys 11
                ret
sleep:          sys 12
                ret
gettid:         sys 13
                ret
clock:          sys 14
                ret
sbrk:           sys 15
                ret
futex_wait:     sys 16
                ret
futex_wake:     sys 17
                ret

; --- Printing -----------------------------------------------------------------------------

; puts(str): write the NUL-terminated string, adding nothing. r1 = bytes written.
puts:
    mov  r2, r1
__puts_len:
    ldb  r3, [r2]
    li   r4, 0
    beq  r3, r4, __puts_write
    add  r2, r2, 1
    jmp  __puts_len
__puts_write:
    sub  r2, r2, r1
    sys  2
    ret

; print_dec(n): n as an unsigned decimal number.
print_dec:
    sub  sp, sp, 12             ; room for 10 digits
    add  r3, sp, 12             ; digits are made from the right
    li   r4, 0
__pd_loop:
    sub  r3, r3, 1
    remu r2, r1, 10
    add  r2, r2, '0'
    stb  r2, [r3]
    divu r1, r1, 10
    bne  r1, r4, __pd_loop
    mov  r1, r3
    add  r2, sp, 12
    sub  r2, r2, r3
    sys  2
    add  sp, sp, 12
    ret

; print_hex(n): n as 8 lowercase hexadecimal digits, without "0x".
print_hex:
    sub  sp, sp, 8
    li   r3, 0
__ph_loop:
    li   r4, 28
    shl  r5, r3, 2
    sub  r4, r4, r5             ; the shift of digit r3, from the top
    shr  r2, r1, r4
    and  r2, r2, 15
    ldb  r2, [r2 + __hex_digits]
    add  r5, sp, r3
    stb  r2, [r5]
    add  r3, r3, 1
    li   r4, 8
    bltu r3, r4, __ph_loop
    mov  r1, sp
    li   r2, 8
    sys  2
    add  sp, sp, 8
    ret
__hex_digits: .ascii "0123456789abcdef"

; --- Mutexes for kernel-level threads -------------------------------------------------------
;
; A mutex is one word: 0 unlocked, 1 locked, 2 locked and maybe wanted by a sleeping
; thread. Taking a free mutex is one `xchg`, without entering the kernel; only a thread that
; finds it taken sleeps in the kernel (futex_wait), and only an unlock that sees 2 enters
; the kernel to wake one (futex_wake). Whoever gets the lock after having waited leaves 2
; behind, so its unlock wakes the next waiter: no wake-up is lost.

; mutex_lock(addr)
mutex_lock:
    li   r2, 1
    xchg r2, [r1]
    li   r3, 0
    beq  r2, r3, __ml_done      ; it was free: ours
__ml_wait:
    li   r2, 2
    xchg r2, [r1]
    li   r3, 0
    beq  r2, r3, __ml_done      ; freed meanwhile: ours (marked 2, to be safe)
    mov  r5, r1
    li   r2, 2
    sys  16                     ; futex_wait(addr, 2): sleep while it is still 2
    mov  r1, r5
    jmp  __ml_wait
__ml_done:
    ret

; mutex_unlock(addr)
mutex_unlock:
    li   r2, 0
    xchg r2, [r1]
    li   r3, 2
    bne  r2, r3, __mu_done      ; nobody waits
    li   r2, 1
    sys  17                     ; futex_wake(addr, 1)
__mu_done:
    ret

; --- User-level threads ----------------------------------------------------------------------
;
; Many threads inside one kernel thread, scheduled by this library alone: the kernel does
; not know they exist. A switch saves the callee-saved registers on the running thread's
; stack, stores sp in its table entry, loads the next thread's sp and pops its registers:
; a few dozen instructions, no trap. They are cooperative (a thread runs until it calls
; uthread_yield, uthread_join or uthread_exit), and since the kernel sees one thread, a
; blocking system call in any of them blocks them all.
;
; Entry 0 is the thread that first used the library (usually main's). Stacks come from
; sbrk, 8 KiB each, and are reused when an entry is.

.equ __UT_MAX, 32
.equ __UT_STACK, 8192
.equ __UT_SP, 0                 ; saved sp while not running
.equ __UT_STATE, 4              ; 0 free, 1 ready (or running), 2 finished
.equ __UT_VALUE, 8
.equ __UT_STK, 12               ; its stack (the low end), 0 before the first use
.equ __UT_SIZE, 16

    .align 4
__ut_current:   .word 0
__ut_high:      .word 1         ; 1 + the highest entry ever used: the scans stop there
__ut_table:     .word 0, 1, 0, 0    ; entry 0: the original thread, running
                .space (__UT_MAX - 1) * __UT_SIZE

; uthread_create(entry, arg) -> id; -4 if there is no room
uthread_create:
    li   r3, 1
__uc_find:
    shl  r4, r3, 4
    add  r4, r4, __ut_table
    ld   r5, [r4 + __UT_STATE]
    li   r6, 0
    beq  r5, r6, __uc_found
    add  r3, r3, 1
    li   r5, __UT_MAX
    bltu r3, r5, __uc_find
    li   r1, -4
    ret
__uc_found:
    ld   r5, [r4 + __UT_STK]
    bne  r5, r6, __uc_stack
    push r1
    push r2
    push r3
    push r4
    li   r1, __UT_STACK
    sys  15                     ; sbrk
    mov  r5, r1
    pop  r4
    pop  r3
    pop  r2
    pop  r1
    li   r6, -4
    beq  r5, r6, __uc_nomem
    st   r5, [r4 + __UT_STK]
__uc_stack:
    li   r6, __ut_high
    ld   r7, [r6]
    bltu r3, r7, __uc_high_ok
    add  r7, r3, 1
    st   r7, [r6]
__uc_high_ok:
    ; The new stack looks as if the thread had called __ut_switch from __ut_begin:
    ; a return address, then r8..r14 (r8 = entry, r9 = arg).
    add  r5, r5, __UT_STACK - 32
    li   r6, __ut_begin
    st   r6, [r5 + 28]
    st   r1, [r5 + 24]          ; r8
    st   r2, [r5 + 20]          ; r9
    li   r6, 0
    st   r6, [r5 + 16]
    st   r6, [r5 + 12]
    st   r6, [r5 + 8]
    st   r6, [r5 + 4]
    st   r6, [r5]
    st   r5, [r4 + __UT_SP]
    li   r6, 1
    st   r6, [r4 + __UT_STATE]
    mov  r1, r3
    ret
__uc_nomem:
    li   r1, -4
    ret

; A new user-level thread starts here: entry(arg), then uthread_exit with its result.
__ut_begin:
    mov  r1, r9
    call r8
    call uthread_exit

; uthread_yield() -> 0: run the next ready thread, round robin; back here later.
uthread_yield:
    li   r1, __ut_current
    ld   r1, [r1]
    mov  r2, r1
__uy_next:
    add  r2, r2, 1
    li   r3, __ut_high
    ld   r3, [r3]
    bltu r2, r3, __uy_check
    li   r2, 0
__uy_check:
    beq  r2, r1, __uy_none      ; went round: nobody else is ready
    shl  r3, r2, 4
    ld   r3, [r3 + __ut_table + __UT_STATE]
    li   r4, 1
    bne  r3, r4, __uy_next
    call __ut_switch
__uy_none:
    li   r1, 0
    ret

; __ut_switch: from thread r1 to thread r2. Returns when something switches back to r1.
__ut_switch:
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    shl  r3, r1, 4
    st   sp, [r3 + __ut_table + __UT_SP]
    li   r3, __ut_current
    st   r2, [r3]
    shl  r3, r2, 4
    ld   sp, [r3 + __ut_table + __UT_SP]
    pop  r14
    pop  r13
    pop  r12
    pop  r11
    pop  r10
    pop  r9
    pop  r8
    ret

; uthread_exit(v): the current thread ends with value v. If no other thread is ready, the
; process ends: exit(v).
uthread_exit:
    li   r2, __ut_current
    ld   r2, [r2]
    shl  r3, r2, 4
    st   r1, [r3 + __ut_table + __UT_VALUE]
    li   r4, 2
    st   r4, [r3 + __ut_table + __UT_STATE]
    mov  r5, r1
    mov  r1, r2
__ue_next:
    add  r2, r2, 1
    li   r3, __ut_high
    ld   r3, [r3]
    bltu r2, r3, __ue_check
    li   r2, 0
__ue_check:
    beq  r2, r1, __ue_last
    shl  r3, r2, 4
    ld   r3, [r3 + __ut_table + __UT_STATE]
    li   r4, 1
    bne  r3, r4, __ue_next
    call __ut_switch            ; never switched back to: it has finished
__ue_last:
    mov  r1, r5
    sys  1

; uthread_join(id) -> its value, once it has finished; -3 if there is no such thread
uthread_join:
    li   r2, __UT_MAX
    bgeu r1, r2, __uj_none
    li   r2, __ut_current
    ld   r2, [r2]
    beq  r1, r2, __uj_none
    mov  r6, r1
__uj_wait:
    shl  r3, r6, 4
    ld   r4, [r3 + __ut_table + __UT_STATE]
    li   r5, 2
    beq  r4, r5, __uj_done
    li   r5, 1
    bne  r4, r5, __uj_none
    push r6
    call uthread_yield          ; let it (and the others) run
    pop  r6
    jmp  __uj_wait
__uj_done:
    shl  r3, r6, 4
    ld   r1, [r3 + __ut_table + __UT_VALUE]
    li   r4, 0
    st   r4, [r3 + __ut_table + __UT_STATE]     ; the entry (and its stack) may be reused
    ret
__uj_none:
    li   r1, -3
    ret
