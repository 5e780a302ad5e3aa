; frame_sweep.s -- hostile guest: map every frame number past its memory, one by one.
;
; Run it:   hv boot guests/hello.s guests/hostile/frame_sweep.s guests/fib.s
;
; The attack: bad_pte.s tries a few chosen frames; this one is systematic. Its page table
; maps 1024 consecutive virtual pages onto guest-physical frames 0x10000, 0x11000, ...
; 0x40f000: every frame of the first 4 MiB past its own 64 KiB. Under the hypervisor the
; host's pool is far smaller than that, so if any guest frame number leaked through to a
; host address unchecked, one of these pages would land on the guest's own shadow tables,
; on a neighbour's memory, or on the free part of the pool. The kernel reads and writes
; every one of those pages.
;
; What must happen: all 1024 reads fault (cause 5) and all 1024 writes fault (cause 6), and
; no value is ever read: the counts printed are the same on the bare machine, where those
; frames simply do not exist. The tests also check that the host memory outside this
; guest's frames is byte for byte what it would be without it.

.equ PDIR,   0x8000
.equ PT_LOW, 0x9000
.equ PT_SWEEP, 0xa000           ; 0x400000 + i * 0x1000 -> frame 0x10 + i
.equ P, 1
.equ W, 2
.equ NPAGES, 1024
.equ READ_FAULT, 5
.equ WRITE_FAULT, 6

.include "../lib/paging.s"

.entry boot

boot:
    li   sp, 0xe000
    li   r1, on_fault
    mtcr evec, r1
    IDENTITY_MAP PT_LOW, 16        ; the 16 pages the guest has, at their own addresses
    li   r2, 0
    li   r3, NPAGES
sweep_fill:
    add  r4, r2, 0x10           ; frame number 0x10 + i: past the 16 frames we have
    shl  r4, r4, 12
    or   r4, r4, P | W
    shl  r5, r2, 2
    st   r4, [r5 + PT_SWEEP]
    add  r2, r2, 1
    blt  r2, r3, sweep_fill
    li   r6, PDIR
    li   r4, PT_LOW | P | W
    st   r4, [r6]
    li   r4, PT_SWEEP | P | W
    st   r4, [r6 + 4]
    PAGING_ON PDIR                 ; kernel mode, paging on

    li   r11, 0                 ; read faults
    li   r12, 0                 ; write faults
    li   r13, 0                 ; loads that returned a value (must stay 0)
    li   r14, 0                 ; other traps (must stay 0)
    li   r7, 0xdeadbeef
    li   r2, 0
    li   r3, NPAGES
sweep:
    shl  r6, r2, 12
    add  r6, r6, 0x400000
    add  r6, r6, 0x7fc          ; the middle of the page
    li   r10, after_read
    ld   r1, [r6]
    add  r13, r13, 1
after_read:
    li   r10, after_write
    st   r7, [r6]
after_write:
    add  r2, r2, 1
    blt  r2, r3, sweep

    li   r1, s_reads
    call puts
    mov  r1, r11
    call print_uint
    li   r1, s_writes
    call puts
    mov  r1, r12
    call print_uint
    li   r1, s_values
    call puts
    mov  r1, r13
    call print_uint
    li   r1, s_other
    call puts
    mov  r1, r14
    call print_uint
    call newline
    halt

on_fault:                       ; counts by cause, resumes at r10; uses r1 only
    mfcr r1, cause
    sub  r1, r1, READ_FAULT
    bne  r1, r0, not_read       ; (r0 is 0 throughout)
    add  r11, r11, 1
    jmp  resume
not_read:
    sub  r1, r1, WRITE_FAULT - READ_FAULT
    bne  r1, r0, not_write
    add  r12, r12, 1
    jmp  resume
not_write:
    add  r14, r14, 1
resume:
    mtcr epc, r10
    iret

s_reads:  .asciz "read faults: "
s_writes: .asciz ", write faults: "
s_values: .asciz ", values read: "
s_other:  .asciz ", other traps: "

.include "../lib/io.s"
