; smp.s -- four CPUs sharing one memory: stacks, a spinlock, a barrier, a parallel sum,
; inter-processor interrupts, and a counter that loses updates.
;
; Run it:   hv run guests/smp.s --cpus 4
;           hv boot guests/smp.s --cpus 4            (the same output, under the hypervisor)
;           hv run guests/smp.s --cpus 4 --quantum 7 (another interleaving: see part 5)
;
; The machine (docs/isa.md, "Several CPUs"): every CPU starts here, at the entry, at once,
; with the same boot state: kernel mode, interrupts off, sp at the top of memory. They
; take turns of Q instruction slots (--quantum, default 1000) in the order 0, 1, 2, 3.
; Memory is shared; registers, control registers, TLB, timer and pending interrupts are
; per CPU. A CPU learns its number from the control register `cpuid`.
;
; What it shows, in five parts (only CPU 0 prints: the console is shared, and four CPUs
; printing at once would mix their characters):
;   1. a stack per CPU, computed from cpuid before the first call;
;   2. a spinlock on `xchg` guarding a shared counter: 4 × 500 increments, never one lost;
;   3. a barrier (everyone waits until all have arrived), built on the lock;
;   4. a parallel sum: each CPU adds a quarter of an array, CPU 0 adds the four parts;
;   5. an IPI ping-pong between CPUs 0 and 1 (`out 0x21`, cause 18), with its cost;
;   6. the same counter without the lock: updates are lost. Which ones, and how many,
;      depends on where the turns end, so on --quantum; for a given quantum it is the same
;      on every run, on either core, bare or virtualized (the machine is deterministic).
;
; Run it with fewer than NCPUS CPUs and the first barrier waits forever (use --max-steps).

.include "lib/hw.s"
.entry start

.equ NCPUS, 4
.equ STACK, 1024                ; bytes of stack per CPU
.equ ROUNDS, 500                ; increments per CPU, parts 2 and 6
.equ NWORDS, 256                ; the array of part 4
.equ PINGS, 10                  ; round trips of part 5

start:
    ; 1. Every CPU booted with sp = the top of memory: the same stack for all. Carve one
    ;    per CPU before anything is pushed: CPU k gets [top - (k+1)*STACK, top - k*STACK).
    mfcr r10, cpuid             ; r10 = this CPU's number, kept for the whole program
    mul  r1, r10, STACK
    sub  sp, sp, r1
    li   r1, handler
    mtcr evec, r1               ; every CPU has its own evec: all point at one handler

    ; CPU 0 fills the array while the others wait at the barrier.
    bne  r10, r0, filled
    li   r1, 0
fill:
    add  r2, r1, 1
    shl  r3, r1, 2
    st   r2, [r3 + array]       ; array[i] = i + 1
    add  r1, r1, 1
    li   r2, NWORDS
    bne  r1, r2, fill
filled:
    call barrier

    ; 2. The locked counter.
    li   r5, ROUNDS
locked_loop:
    call lock
    ld   r1, [r0 + counter]
    add  r1, r1, 1
    st   r1, [r0 + counter]
    call unlock
    sub  r5, r5, 1
    bne  r5, r0, locked_loop

    ; 4. The parallel sum: CPU k adds array[k*64 .. k*64+63] into partial[k].
    li   r1, NWORDS / NCPUS
    mul  r2, r10, r1            ; first index
    add  r3, r2, r1             ; one past the last
    li   r4, 0
sum_loop:
    shl  r6, r2, 2
    ld   r6, [r6 + array]
    add  r4, r4, r6
    add  r2, r2, 1
    bne  r2, r3, sum_loop
    shl  r6, r10, 2
    st   r4, [r6 + partial]

    call barrier                ; 3. after it, every counter increment and part is done

    bne  r10, r0, no_report1
    li   r1, msg_locked
    call puts
    ld   r1, [r0 + counter]
    call print_uint
    call newline
    li   r1, msg_sum
    call puts
    li   r4, 0
    li   r2, 0
add_parts:
    shl  r6, r2, 2
    ld   r6, [r6 + partial]
    add  r4, r4, r6
    add  r2, r2, 1
    li   r6, NCPUS
    bne  r2, r6, add_parts
    mov  r1, r4
    call print_uint             ; 1 + 2 + ... + 256 = 32896
    call newline
no_report1:

    ; 5. IPI ping-pong. CPU 0 sends PINGS IPIs to CPU 1; CPU 1's handler answers each with
    ;    an IPI back to the sender (badaddr). The others go straight to the next barrier.
    li   r1, 1
    beq  r10, r1, pong_side
    bne  r10, r0, pingpong_done
    mfcr r8, icount             ; CPU 0's clock before the first ping
    li   r5, 0                  ; pings sent
ping:
    li   r1, 1
    out  PORT_IPI, r1           ; IPI to CPU 1
    add  r5, r5, 1
    call wait_pongs             ; until pongs[0] = r5
    li   r1, PINGS
    bne  r5, r1, ping
    mfcr r9, icount
    sub  r9, r9, r8             ; CPU 0 slots for PINGS round trips (idle ones included)
    li   r1, msg_ping
    call puts
    li   r1, PINGS
    call print_uint
    li   r1, msg_ping2
    call puts
    mov  r1, r9
    li   r2, PINGS
    divu r1, r9, r2
    call print_uint
    li   r1, msg_ping3
    call puts
    jmp  pingpong_done
pong_side:
    li   r5, PINGS
    mov  r1, r5
    call wait_pongs             ; CPU 1 waits until its handler has seen PINGS pings
pingpong_done:
    call barrier

    ; 6. The same counter, unlocked. Between the load and the store another CPU may take
    ;    its turn and store its own increment, which this store then overwrites.
    li   r5, ROUNDS
unlocked_loop:
    ld   r1, [r0 + racy]
    add  r1, r1, 1
    nop                         ; a little work between the load and the store: a turn
    nop                         ; that ends in this window loses the other CPUs' updates
    nop
    st   r1, [r0 + racy]
    sub  r5, r5, 1
    bne  r5, r0, unlocked_loop
    call barrier

    bne  r10, r0, park
    li   r1, msg_racy
    call puts
    ld   r1, [r0 + racy]
    call print_uint
    li   r1, msg_racy2
    call puts
    ld   r2, [r0 + racy]
    li   r1, NCPUS * ROUNDS
    sub  r1, r1, r2
    call print_uint
    li   r1, msg_racy3
    call puts
    halt                        ; any CPU's halt powers the whole machine off

park:
    wfi                         ; CPUs 1..3: wait (no timer, IE off) until the power goes
    jmp  park

; --- lock / unlock: a test-and-set spinlock on xchg ------------------------------------------
; xchg swaps a register with a word atomically: no other CPU can come between the read and
; the write. Swapping in 1 and getting 0 back means the lock was free and is now ours.
lock:
    push r1
lock_spin:
    li   r1, 1
    xchg r1, [r0 + the_lock]
    bne  r1, r0, lock_spin      ; it was 1: someone holds it; try again
    pop  r1
    ret

unlock:
    st   r0, [r0 + the_lock]    ; a plain store releases it (memory is sequentially consistent)
    ret

; --- barrier: return when all NCPUS CPUs have called it (as many times) ----------------------
; `arrived` only grows: the k-th barrier is passed when arrived reaches k × NCPUS.
barrier:
    push r1
    push r2
    call lock
    ld   r1, [r0 + arrived]
    add  r1, r1, 1
    st   r1, [r0 + arrived]
    call unlock
    ; target = (arrived rounded up to a multiple of NCPUS)
    add  r1, r1, NCPUS - 1
    li   r2, NCPUS
    divu r1, r1, r2
    mul  r1, r1, r2
barrier_spin:
    ld   r2, [r0 + arrived]
    bltu r2, r1, barrier_spin
    pop  r2
    pop  r1
    ret

; --- wait_pongs: wait in wfi until pongs[cpuid] reaches r5 -----------------------------------
; The check and the wfi run with interrupts off, so an IPI arriving between them is not
; lost: wfi wakes on a pending interrupt even with IE = 0. Then `sti` lets it in.
wait_pongs:
    push r6
wp_loop:
    cli
    shl  r6, r10, 2
    ld   r6, [r6 + pongs]
    bgeu r6, r5, wp_done
    wfi                         ; idle slots until an IPI is pending
    sti                         ; the handler runs here, at the next boundary
    nop
    jmp  wp_loop
wp_done:
    sti
    pop  r6
    ret

; --- the trap handler: IPIs only (cause 18) ---------------------------------------------------
; Counts the IPI in pongs[cpuid]; on CPU 1, answers with an IPI to the sender.
handler:
    push r1
    push r2
    mfcr r1, cause
    li   r2, CAUSE_IPI
    bne  r1, r2, bad_trap
    mfcr r2, cpuid
    shl  r2, r2, 2
    ld   r1, [r2 + pongs]
    add  r1, r1, 1
    st   r1, [r2 + pongs]
    li   r1, 4                  ; cpuid 1 (× 4)
    bne  r2, r1, handler_done
    mfcr r1, badaddr            ; the sender
    out  PORT_IPI, r1           ; pong
handler_done:
    pop  r2
    pop  r1
    iret
bad_trap:
    out  PORT_POWER, r1         ; anything else is a bug: power off with the cause
    halt

.include "lib/io.s"

msg_locked: .asciz "locked counter: "
msg_sum:    .asciz "parallel sum: "
msg_ping:   .asciz "ping-pong: "
msg_ping2:  .asciz " round trips, "
msg_ping3:  .asciz " CPU 0 slots each\n"
msg_racy:   .asciz "unlocked counter: "
msg_racy2:  .asciz " ("
msg_racy3:  .asciz " updates lost)\n"

.align 4
the_lock: .word 0
arrived:  .word 0
counter:  .word 0
racy:     .word 0
partial:  .space 4 * NCPUS
pongs:    .space 4 * 16
array:    .space 4 * NWORDS
