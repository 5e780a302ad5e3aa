; test_syscalls.s -- the OS's system calls, one by one: results, error codes, registers.
;
; Run: hv os guests/os/tests/test_syscalls.s guests/os/tests/child.s
; (tests/test_os.py runs it on both cores, bare and under the hypervisor.)
; os-programs: child.s
.include "user.s"
.include "utap.s"

main:
    PLAN 42

    ; --- identity ---
    call getpid
    CHECK_EQ r1, 1, "getpid: the first process is pid 1"
    call gettid
    CHECK_EQ r1, 1, "gettid: its first thread is tid 1"

    ; --- every register but r1 survives a system call ---
    li   r2, 2
    li   r3, 3
    li   r4, 4
    li   r5, 5
    li   r6, 6
    li   r7, 7
    li   r8, 8
    li   r9, 9
    li   r10, 10
    li   r11, 11
    li   r12, 12
    li   r13, 13
    li   r14, 14
    li   r0, 100
    mov  r1, sp
    sys  7
    sub  r1, r1, 1
    add  r1, r1, r0
    add  r1, r1, r2
    add  r1, r1, r3
    add  r1, r1, r4
    add  r1, r1, r5
    add  r1, r1, r6
    add  r1, r1, r7
    add  r1, r1, r8
    add  r1, r1, r9
    add  r1, r1, r10
    add  r1, r1, r11
    add  r1, r1, r12
    add  r1, r1, r13
    add  r1, r1, r14
    CHECK_EQ r1, 204, "registers r0, r2-r14 are kept across sys"
    li   r0, 0

    ; --- write ---
    li   r1, s_hello
    li   r2, 6
    call write
    CHECK_EQ r1, 6, "write returns the length"
    li   r1, 0x1000
    li   r2, 4
    call write
    CHECK_EQ r1, -5, "write from kernel memory: -5"
    li   r1, 0xfffff000
    li   r2, 4
    call write
    CHECK_EQ r1, -5, "write from the top page: -5"
    li   r1, s_hello
    li   r2, 0x7ffffff0
    call write
    CHECK_EQ r1, -5, "write running off the image: -5"
    li   r1, 0x1000
    li   r2, 0
    call write
    CHECK_EQ r1, 0, "write of 0 bytes: 0"

    ; --- read (no console input in the test) ---
    li   r1, buf
    li   r2, 8
    call read
    CHECK_EQ r1, 0, "read at the end of input: 0"
    li   r1, 0x2000
    li   r2, 8
    call read
    CHECK_EQ r1, -5, "read into kernel memory: -5"
    li   r1, s_hello            ; the image is read/write: a string is a fine buffer
    li   r2, 1
    call read
    CHECK_EQ r1, 0, "read into the image: allowed"

    ; --- unknown calls ---
    sys  99
    CHECK_EQ r1, -1, "sys 99: -1"
    sys  0
    CHECK_EQ r1, -1, "sys 0: -1"

    ; --- sbrk ---
    li   r1, 0
    call sbrk
    mov  r8, r1
    and  r2, r1, 0xfff
    CHECK_EQ r2, 0, "sbrk(0): the heap starts on a page boundary"
    li   r1, 10000
    call sbrk
    CHECK_EQR r1, r8, "sbrk(n) returns the old end"
    li   r2, 0x5a5a5a5a
    st   r2, [r8 + 9996]        ; the new memory is usable...
    ld   r3, [r8 + 9996]
    CHECK_EQR r3, r2, "sbrk'd memory can be written and read"
    ld   r3, [r8 + 100]
    CHECK_EQ r3, 0, "...and starts out zero"
    li   r1, 0x10000000
    call sbrk
    CHECK_EQ r1, -4, "sbrk beyond the heap's limit: -4"
    li   r1, -10000
    call sbrk
    add  r2, r8, 10000
    CHECK_EQR r1, r2, "sbrk(-n) shrinks"
    li   r1, -0x100000
    call sbrk
    CHECK_EQ r1, -1, "sbrk below the heap's start: -1"

    ; --- yield, sleep, clock ---
    call yield
    CHECK_EQ r1, 0, "yield: 0"
    li   r1, 2
    call sleep
    CHECK_EQ r1, 0, "sleep(2): 0"

    call clock
    mov  r8, r1
    call clock
    sub  r1, r1, r8
    li   r2, 0
    li   r3, 0
    bge  r2, r1, clock_flat
    li   r3, 1
clock_flat:
    OK   r3, "clock() counts instructions: a later call reads more"

    ; --- futex ---
    li   r1, word
    li   r2, 5
    call futex_wait
    CHECK_EQ r1, -1, "futex_wait on a different value: -1"
    li   r1, word
    li   r2, 3
    call futex_wake
    CHECK_EQ r1, 0, "futex_wake with nobody waiting: 0"
    li   r1, 0x3000
    li   r2, 0
    call futex_wait
    CHECK_EQ r1, -5, "futex_wait on kernel memory: -5"

    li   r1, 0x3000
    li   r2, 1
    call futex_wake
    CHECK_EQ r1, -5, "futex_wake on kernel memory: -5"
    li   r1, 0x1000
    li   r2, 0
    call thread_create
    CHECK_EQ r1, -5, "thread_create with an entry in the kernel: -5"
    li   r1, 0xfffff000
    li   r2, 0
    call thread_create
    CHECK_EQ r1, -5, "thread_create with an entry in the top page: -5"

    ; --- wait, exec ---
    li   r1, -1
    call wait
    CHECK_EQ r1, -3, "wait(-1) without children: -3"
    li   r1, 77
    call wait
    CHECK_EQ r1, -3, "wait(77), not a child: -3"
    li   r1, s_nosuch
    call exec
    CHECK_EQ r1, -2, "exec of a program not on the disk: -2"
    li   r1, 0x1000
    call exec
    CHECK_EQ r1, -5, "exec with a bad name pointer: -5"

    ; --- fork + wait ---
    call fork
    li   r2, 0
    bne  r1, r2, parent
    li   r1, 42                 ; the child
    call exit
parent:
    mov  r8, r1
    CHECK_EQ r8, 2, "fork returns the child's pid (2)"
    mov  r1, r8
    call wait
    CHECK_EQR r1, r8, "wait returns the child's pid"
    CHECK_EQ r2, 42, "...and its exit status"
    mov  r1, r8
    call wait
    CHECK_EQ r1, -3, "a child is waited for only once"

    ; --- fork + exec ---
    call fork
    li   r2, 0
    bne  r1, r2, parent2
    li   r1, s_child
    call exec
    li   r1, 99                 ; exec returned: failure
    call exit
parent2:
    li   r1, -1
    call wait
    CHECK_EQ r2, 77, "fork + exec(child): the child program's status (77)"

    ; --- the forked copy is a copy ---
    li   r1, word
    li   r2, 3
    st   r2, [r1]
    call fork
    li   r2, 0
    bne  r1, r2, parent3
    li   r1, word               ; the child changes its copy and exits with it
    li   r2, 9
    st   r2, [r1]
    ld   r1, [r1]
    call exit
parent3:
    li   r1, -1
    call wait
    CHECK_EQ r2, 9, "the child saw its own store"
    li   r1, word
    ld   r1, [r1]
    CHECK_EQ r1, 3, "the parent's copy is untouched"

    ; --- copy on write: the parent writes after fork, the child keeps the old value ---
    li   r1, word
    li   r2, 5
    st   r2, [r1]
    call fork
    li   r2, 0
    bne  r1, r2, parent4
    li   r1, 3                  ; the child waits until the parent has written
    call sleep
    li   r1, buf                ; read() writes into a shared page from the kernel
    li   r2, 4
    call read
    li   r1, word
    ld   r1, [r1]
    call exit
parent4:
    mov  r8, r1
    li   r1, word
    li   r2, 6
    st   r2, [r1]
    mov  r1, r8
    call wait
    CHECK_EQ r2, 5, "the child keeps the value it had at fork (copy on write)"
    li   r1, word
    ld   r1, [r1]
    CHECK_EQ r1, 6, "...and the parent has its own"

    DONE

s_hello:    .asciz "hello\n"
s_nosuch:   .asciz "no-such-program"
s_child:    .asciz "child"
    .align 4
word:       .word 3
buf:        .space 16
