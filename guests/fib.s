; fib.s -- recursion: call/ret, push/pop and stack frames.
;
; Run it:   hv run guests/fib.s
;
; Prints fib(0) .. fib(15), computed the slow, naive, recursive way,
;     fib(n) = n                        for n < 2
;     fib(n) = fib(n - 1) + fib(n - 2)  otherwise
; together with the number of calls each one took and the deepest the stack grew.
;
; What it shows:
;   - `call` pushes the return address on the stack (sp goes down by 4) and `ret` pops it;
;   - a stack frame with a frame pointer (r14), so locals have fixed offsets;
;   - callee-saved registers: fib promises to give back r2 (and r14) unchanged;
;   - the stack lives at the top of memory: at boot sp = the memory size (0x10000 with the
;     default 64 KiB), and the stack grows down from there.
;
; What to look for: the call counts grow like fib itself (fib(15) = 610 takes 1973 calls),
; which is why nobody computes Fibonacci numbers this way; the deepest stack, though, grows
; only linearly: 12 bytes (return address, frame pointer, saved r2) per level of nesting.

.equ N, 15                      ; the last fib computed

.include "lib/hw.s"             ; the machine's numbers by name (PORT_..., CAUSE_...)
.entry main

main:
    li   r10, 0                 ; r10 = n, the loop counter
main_loop:
    li   r1, 0                  ; reset the statistics for this n
    li   r2, calls
    st   r1, [r2]
    li   r2, lowest_sp
    st   sp, [r2]

    mov  r1, r10
    call fib                    ; r1 = fib(n)
    mov  r11, r1

    li   r1, s_fib              ; "fib("
    call puts
    mov  r1, r10
    call print_uint
    li   r1, s_equals           ; ") = "
    call puts
    mov  r1, r11
    call print_uint
    li   r1, s_calls            ; "  calls: "
    call puts
    li   r2, calls
    ld   r1, [r2]
    call print_uint
    li   r1, s_depth            ; "  stack: "
    call puts
    li   r2, lowest_sp          ; how far below our own sp the deepest frame reached
    ld   r2, [r2]
    sub  r1, sp, r2
    call print_uint
    li   r1, s_bytes
    call puts

    add  r10, r10, 1
    li   r1, N
    bge  r1, r10, main_loop     ; while n <= N
    halt

; fib: r1 = fib(r1). Uses r3 as scratch; preserves every other register but r1.
;
; The frame, once the prologue has run (addresses grow upward):
;
;     [r14 + 4]   return address     pushed by the caller's `call`
;     [r14 + 0]   caller's r14       pushed by us: the saved frame pointer
;     [r14 - 4]   caller's r2        pushed by us: a callee-saved register
;     [r14 - 8]   fib(n - 1)         a local, kept while fib(n - 2) is computed
;
; Every level of recursion adds one such frame below the last (12 bytes, 16 while the
; local is live).
fib:
    push r14                    ; prologue: save the caller's frame pointer...
    mov  r14, sp                ; ...and set up ours
    push r2                     ; we use r2, and promised to preserve it

    li   r2, calls              ; count this call
    ld   r3, [r2]
    add  r3, r3, 1
    st   r3, [r2]
    li   r2, lowest_sp          ; remember the deepest sp seen (the stack grows down)
    ld   r3, [r2]
    bgeu sp, r3, fib_not_deeper
    st   sp, [r2]
fib_not_deeper:

    li   r2, 2
    blt  r1, r2, fib_return     ; fib(0) = 0, fib(1) = 1: r1 already holds the answer

    mov  r2, r1                 ; r2 = n; fib(n - 1) is free to use r2, it will restore it
    sub  r1, r2, 1
    call fib                    ; r1 = fib(n - 1)
    push r1                     ; the local at [r14 - 8]
    sub  r1, r2, 2
    call fib                    ; r1 = fib(n - 2)
    ld   r2, [r14 - 8]          ; fib(n - 1), found through the frame pointer
    add  r1, r1, r2

fib_return:
    ld   r2, [r14 - 4]          ; epilogue: restore r2...
    mov  sp, r14                ; ...drop the locals, whatever their number...
    pop  r14                    ; ...restore the caller's frame pointer...
    ret                         ; ...and return to the address `call` pushed

calls:      .word 0             ; calls made for the current n
lowest_sp:  .word 0             ; the lowest sp seen for the current n

s_fib:      .asciz "fib("
s_equals:   .asciz ") = "
s_calls:    .asciz "  calls: "
s_depth:    .asciz "  deepest stack: "
s_bytes:    .asciz " bytes\n"

.include "lib/io.s"
