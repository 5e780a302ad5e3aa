; tlb_storm.s -- hostile guest: instructions that are cheap for the guest and dear for the host.
;
; Run it:   hv boot guests/fib.s guests/hostile/tlb_storm.s --max-steps 400000
;
; The attack: with paging on, the kernel rewrites `ptbr` and flushes the TLB in a tight loop,
; touching a few pages between flushes. On the bare machine each of these is one instruction.
; Under the hypervisor each `mtcr ptbr` and `tlbflush` traps, throws the shadow page tables
; away, and every page touched afterwards costs a shadow fill: a few instructions of the
; guest buy thousands of host instructions. A scheduler that shares only guest instructions
; hands this guest the host.
;
; What must happen: the guest gets its share of *host* time, not of instructions: when its
; slice has cost its share, it loses the rest of it, and `fib.s` beside it finishes within a
; few times its solo wall time (tests/test_fairness.py, bench/fairness.py). Its own output
; and instruction count are unchanged (time is its own instruction clock): it prints one
; line and loops until the instruction limit stops it.

.equ PDIR,   0x8000
.equ PT_LOW, 0x9000             ; identity map of the 16 pages
.equ P, 1
.equ W, 2

.include "../lib/paging.s"

.entry boot

boot:
    li   r2, 0
    li   r3, 16
ident:
    shl  r4, r2, 12
    or   r4, r4, P | W
    shl  r5, r2, 2
    st   r4, [r5 + PT_LOW]
    add  r2, r2, 1
    blt  r2, r3, ident
    li   r6, PDIR
    li   r4, PT_LOW | P | W
    st   r4, [r6]
    PAGING_ON PDIR                 ; kernel mode, paging on

    li   r1, msg
    li   r3, 0
print:
    ldb  r2, [r1]
    beq  r2, r3, storm
    out  0x10, r2
    add  r1, r1, 1
    jmp  print

storm:
    li   r1, PDIR
    mtcr ptbr, r1               ; the shadow is rebuilt from scratch...
    tlbflush                    ; ...and again
    ld   r4, [r0 + 0x2000]      ; every touched page is a shadow fill
    ld   r4, [r0 + 0x3000]
    ld   r4, [r0 + 0x4000]
    st   r4, [r0 + 0x5000]
    st   r4, [r0 + 0x6000]
    jmp  storm

msg: .asciz "storming the TLB\n"
