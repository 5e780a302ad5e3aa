; sieve.s -- the sieve of Eratosthenes, on an array of bytes.
;
; Run it:   hv run guests/sieve.s
;
; Prints every prime below LIMIT (1000), ten to a line, then how many there are (168).
;
; What it shows:
;   - memory as an array: one byte per number, `ldb`/`stb` with a register index
;     (`[r5 + sieve]` is "address sieve plus r5", the array element sieve[r5]);
;   - nested loops with two-register branches, and `mul` to start crossing out at p*p;
;   - `.space`, which reserves zeroed bytes in the image: the array starts all "prime".
;
; What to look for: the outer loop stops as soon as p*p >= LIMIT. Every composite below
; LIMIT has a prime factor no larger than its square root, so by then only primes are
; left uncrossed.

.equ LIMIT, 1000
.equ PER_LINE, 10

.include "lib/hw.s"             ; the machine's numbers by name (PORT_..., CAUSE_...)
.entry main

main:
    ; 0 and 1 are not prime. sieve[n] = 1 means "n is crossed out".
    li   r1, 1
    li   r5, 0
    stb  r1, [r5 + sieve]
    stb  r1, [r5 + sieve + 1]

    ; Cross out the multiples of each prime p, starting at p*p (smaller multiples of p
    ; have a smaller prime factor and are already crossed out).
    li   r2, 2                  ; r2 = p
    li   r6, LIMIT
    li   r7, 1                  ; the "crossed out" mark
outer:
    mul  r3, r2, r2             ; r3 = p*p
    bge  r3, r6, sieved         ; p*p >= LIMIT: done
    ldb  r4, [r2 + sieve]
    beq  r4, r7, next_p         ; p itself was crossed out: not a prime, skip it
inner:
    stb  r7, [r3 + sieve]       ; cross out m = p*p, p*p + p, ...
    add  r3, r3, r2
    blt  r3, r6, inner
next_p:
    add  r2, r2, 1
    jmp  outer

sieved:
    ; Print what survived, PER_LINE numbers to a line.
    li   r2, 2                  ; r2 = n
    li   r8, 0                  ; r8 = primes found
    li   r9, 0                  ; r9 = numbers on the current line
    li   r10, PER_LINE
    li   r11, 0
print_loop:
    ldb  r4, [r2 + sieve]
    bne  r4, r11, not_prime     ; crossed out
    beq  r9, r11, first_on_line ; no space before the first number of a line
    call space
first_on_line:
    mov  r1, r2
    call print_uint
    add  r8, r8, 1
    add  r9, r9, 1
    bne  r9, r10, not_prime
    call newline                ; the line is full
    li   r9, 0
not_prime:
    add  r2, r2, 1
    blt  r2, r6, print_loop
    beq  r9, r11, summary       ; end a last, partly filled line
    call newline
summary:
    mov  r1, r8
    call print_uint
    li   r1, s_primes
    call puts
    li   r1, LIMIT
    call print_uint
    call newline
    halt

s_primes:   .asciz " primes below "

sieve:      .space LIMIT        ; sieve[n]: 0 = still a candidate, 1 = crossed out

.include "lib/io.s"
