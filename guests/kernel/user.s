; kernel/user.s -- the user program, and the little library it uses.
;
; This is ordinary user code: it runs in user mode, sees only its own three pages (code,
; data with the stack at its top, heap), and reaches the outside world only through `sys`.
; Every task runs this same program, like processes started from one executable (they
; share its one read-only copy); each asks for its pid and picks its part by it:
;
;   pid 1  counts primes, keeping them on its heap page (mapped on demand); also tries a
;          breakpoint and a system call that does not exist
;   pid 2  sleeps three times, and is the last one left: the kernel idles meanwhile
;   pid 3  yields once, then tries `cli`, a privileged instruction: killed
;   pid 4  asks the kernel to print kernel memory (refused), then reads it itself: killed
;   pid 5  divides by zero: killed
;
; It is assembled at USER_CODE (0xc000), the virtual address it runs at in every task.
; Like the kernel, it keeps r0 = 0 (every register starts at 0, and nothing writes r0).
;
; Variables live in the data page, at the same virtual address in every task; each task
; has its own frame behind it, so when all five store their pid in D_PID, none of them
; overwrites another's. Every line of output starts with "[task N]", N read back from
; D_PID, long after the other tasks have stored theirs: if the address spaces leaked into
; each other, the numbers would be wrong.

.equ D_PID,     0               ; offsets in the data page
.equ D_LEN,     4               ; length of the line being built
.equ D_ZERO,    8               ; a word that stays 0 (task 5 divides by it)
.equ D_LINE,    16              ; the line being built (up to 100 characters)

.org USER_CODE

user_start:
    sys  SYS_GETPID
    li   r9, USER_DATA
    st   r1, [r9 + D_PID]
    sub  r2, r1, 1              ; the part to play: roles[pid - 1]
    shl  r2, r2, 2
    ld   r2, [r2 + roles]
    call r2                     ; returns the exit code in r1
    sys  SYS_EXIT               ; exit(r1): never returns

roles:
    .word task_primes, task_sleeper, task_privileged, task_snoop, task_divide

; --- pid 1: primes on the heap ----------------------------------------------------------
.equ PRIME_LIMIT, 600

task_primes:
    li   r1, us_primes_hello
    call u_hello
    li   r1, 42
    brk                         ; the kernel reports the breakpoint and r1, then resumes
    sys  99                     ; no such system call: r1 = -1
    mov  r2, r1
    call u_begin
    li   r1, us_sys99
    call u_str
    mov  r1, r2
    call u_int
    call u_end

    ; Trial division by the primes found so far, kept as an array of words at USER_HEAP.
    ; The first store there page-faults; the kernel maps the page and the store re-runs.
    li   r5, USER_HEAP          ; r5 = the array
    li   r6, 0                  ; r6 = primes found
    li   r2, 2                  ; r2 = n, the candidate
tp_candidate:
    li   r7, 0                  ; r7 = index of the divisor being tried
tp_trial:
    beq  r7, r6, tp_prime       ; no known prime divides n
    shl  r8, r7, 2
    ld   r8, [r8 + USER_HEAP]   ; r8 = p
    mul  r9, r8, r8
    bltu r2, r9, tp_prime       ; p * p > n: n has no divisor left to find
    remu r9, r2, r8
    beq  r9, r0, tp_next        ; p divides n
    add  r7, r7, 1
    jmp  tp_trial
tp_prime:
    shl  r8, r6, 2
    st   r2, [r8 + USER_HEAP]   ; remember it
    add  r6, r6, 1
tp_next:
    remu r9, r2, 200            ; a progress line every 200 numbers
    bne  r9, r0, tp_no_report
    call u_begin
    li   r1, us_checked
    call u_str
    mov  r1, r2
    call u_int
    li   r1, us_so_far
    call u_str
    mov  r1, r6
    call u_int
    call u_end
tp_no_report:
    add  r2, r2, 1
    li   r9, PRIME_LIMIT
    blt  r2, r9, tp_candidate

    call u_begin                ; "[task 1] 109 primes below 600, the largest 599"
    mov  r1, r6
    call u_int
    li   r1, us_below
    call u_str
    li   r1, PRIME_LIMIT
    call u_int
    li   r1, us_largest
    call u_str
    sub  r8, r6, 1
    shl  r8, r8, 2
    ld   r1, [r8 + USER_HEAP]
    call u_int
    call u_end
    li   r1, 0                  ; exit code 0
    ret

; --- pid 2: sleeps -------------------------------------------------------------------
.equ NAPS, 3
.equ NAP_TICKS, 15

task_sleeper:
    call u_begin                ; "[task 2] hello (pid 2): I take 3 naps of 15 ticks"
    call u_hello_words
    li   r1, us_sleeper_hello
    call u_str
    li   r1, NAPS
    call u_int
    li   r1, us_naps_of
    call u_str
    li   r1, NAP_TICKS
    call u_int
    li   r1, us_ticks
    call u_str
    call u_end
    li   r5, 1                  ; r5 = the nap number
ts_nap:
    li   r1, NAP_TICKS
    sys  SYS_SLEEP
    sys  SYS_UPTIME
    mov  r2, r1
    call u_begin                ; "[task 2] nap 1 over at tick 25"
    li   r1, us_nap
    call u_str
    mov  r1, r5
    call u_int
    li   r1, us_over_at
    call u_str
    mov  r1, r2
    call u_int
    call u_end
    add  r5, r5, 1
    li   r1, NAPS
    bge  r1, r5, ts_nap
    li   r1, NAPS               ; exit code: the number of naps taken
    ret

; --- pid 3: a privileged instruction ---------------------------------------------------
task_privileged:
    li   r1, us_privileged_hello
    call u_hello
    sys  SYS_YIELD              ; let the others run first
    li   r1, us_trying_cli
    call u_say
    cli                         ; privileged: in user mode, this traps (cause 3)
    li   r1, us_not_reached
    call u_say
    li   r1, 0
    ret

; --- pid 4: reading kernel memory ------------------------------------------------------
task_snoop:
    li   r1, us_snoop_hello
    call u_hello
    li   r1, kernel_secret      ; the address is no secret: it is in the same source
    li   r2, 19
    sys  SYS_WRITE              ; the kernel checks the buffer against our page table
    mov  r2, r1
    call u_begin
    li   r1, us_write_refused
    call u_str
    mov  r1, r2
    call u_int
    call u_end
    li   r2, kernel_secret
    ld   r1, [r2]               ; a kernel-only page: page fault on read (cause 5)
    li   r1, us_not_reached
    call u_say
    li   r1, 0
    ret

; --- pid 5: divide by zero ---------------------------------------------------------------
task_divide:
    li   r1, us_divide_hello
    call u_hello
    li   r1, 100
    li   r2, USER_DATA
    ld   r2, [r2 + D_ZERO]      ; the number of items in an empty list
    div  r3, r1, r2             ; divide by zero (cause 8)
    li   r1, us_not_reached
    call u_say
    li   r1, 0
    ret

; === The user library ===================================================================
; Output goes through write(), one whole line per call, so that lines from different
; tasks never get mixed: the kernel runs a system call to its end before it switches
; tasks. A line is built in the data page (D_LINE), then sent by u_end.
; Every routine preserves every register (the system calls in them change only r1, and
; they save r1).

; u_hello: print "[task N] hello (pid N): " and the string at r1.
u_hello:
    call u_begin
    call u_hello_words
    call u_str
    call u_end
    ret

; u_hello_words: append "hello (pid N): ".
u_hello_words:
    push r1
    li   r1, us_hello
    call u_str
    sys  SYS_GETPID             ; the pid again, from the kernel this time
    call u_int
    li   r1, us_hello_end
    call u_str
    pop  r1
    ret

; u_say: print "[task N] " and the string at r1, as one line.
u_say:
    call u_begin
    call u_str
    call u_end
    ret

; u_begin: start a line with "[task N] ".
u_begin:
    push r1
    push r2
    li   r2, USER_DATA
    st   r0, [r2 + D_LEN]
    li   r1, us_task
    call u_str
    ld   r1, [r2 + D_PID]
    call u_int
    li   r1, us_task_end
    call u_str
    pop  r2
    pop  r1
    ret

; u_char: append the character r1 to the line.
u_char:
    push r2
    push r3
    li   r2, USER_DATA
    ld   r3, [r2 + D_LEN]
    add  r3, r3, r2             ; the next free byte is at USER_DATA + D_LINE + D_LEN
    stb  r1, [r3 + D_LINE]
    ld   r3, [r2 + D_LEN]
    add  r3, r3, 1
    st   r3, [r2 + D_LEN]
    pop  r3
    pop  r2
    ret

; u_str: append the NUL-terminated string at r1.
u_str:
    push r1
    push r2
    mov  r2, r1
us_loop:
    ldb  r1, [r2]
    beq  r1, r0, us_done
    call u_char
    add  r2, r2, 1
    jmp  us_loop
us_done:
    pop  r2
    pop  r1
    ret

; u_int: append r1 as a signed decimal number.
u_int:
    push r1
    push r2
    push r3
    bge  r1, r0, ui_positive
    mov  r2, r1
    li   r1, '-'
    call u_char
    sub  r1, r0, r2
ui_positive:
    li   r3, 0                  ; digits, pushed lowest first, popped highest first
ui_split:
    remu r2, r1, 10
    add  r2, r2, '0'
    push r2
    add  r3, r3, 1
    divu r1, r1, 10
    bne  r1, r0, ui_split
ui_emit:
    pop  r1
    call u_char
    sub  r3, r3, 1
    bne  r3, r0, ui_emit
    pop  r3
    pop  r2
    pop  r1
    ret

; u_end: finish the line with "\n" and write it.
u_end:
    push r1
    push r2
    li   r1, '\n'
    call u_char
    li   r1, USER_DATA + D_LINE
    li   r2, USER_DATA
    ld   r2, [r2 + D_LEN]
    sys  SYS_WRITE
    pop  r2
    pop  r1
    ret

; The strings are in the code page: read-only, but readable, so write() accepts them.
us_task:                .asciz "[task "
us_task_end:            .asciz "] "
us_hello:               .asciz "hello (pid "
us_hello_end:           .asciz "): "
us_primes_hello:        .asciz "I count primes, on a heap page that does not exist yet"
us_sys99:               .asciz "system call 99 returned "
us_checked:             .asciz "checked up to "
us_so_far:              .asciz ", primes so far: "
us_below:               .asciz " primes below "
us_largest:             .asciz ", the largest is "
us_sleeper_hello:       .asciz "I take "
us_naps_of:             .asciz " naps of "
us_ticks:               .asciz " ticks"
us_nap:                 .asciz "nap "
us_over_at:             .asciz " over at tick "
us_privileged_hello:    .asciz "I yield once, then try to turn interrupts off"
us_trying_cli:          .asciz "back from yield; now: cli"
us_snoop_hello:         .asciz "I try to read the kernel's memory"
us_write_refused:       .asciz "write() of kernel memory returned "
us_divide_hello:        .asciz "I compute the average of an empty list"
us_not_reached:         .asciz "this line is never printed"

user_template_end:
