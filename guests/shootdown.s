; shootdown.s -- a TLB shootdown on two CPUs.
;
; Run it:   hv run guests/shootdown.s --cpus 2
;           hv boot guests/shootdown.s --cpus 2       (the same output, under the hypervisor)
;
; Each CPU has its own TLB, and the machine does not keep TLBs coherent (brief §11): when
; CPU 0 changes a page-table entry, CPU 1 may go on using the old translation it cached.
; The kernel must tell it: an inter-processor interrupt, whose handler runs `tlbflush` on
; CPU 1. That is a TLB shootdown, as every multiprocessor kernel does it.
;
; The story, with the virtual page X = 0xA000:
;   1. CPU 0 builds identity-mapped tables, except X -> frame OLD (holding 'O').
;   2. CPU 1 reads X: 'O'. Its TLB now holds X -> OLD.
;   3. CPU 0 remaps X -> frame NEW (holding 'N') and flushes its own TLB: it reads 'N'.
;   4. CPU 1 reads X again: still 'O', from its stale TLB entry.
;   5. CPU 0 sends CPU 1 an IPI; CPU 1's handler flushes its TLB.
;   6. CPU 1 reads X: 'N'.
; CPU 0 prints what each read saw. Under the hypervisor each vCPU has its own shadow tables,
; which behave as its TLB: the same reads, the same output.

.include "lib/hw.s"
.entry start

.equ PD, 0x8000                 ; page directory
.equ PT, 0x9000                 ; the one page table: virtual 0..4 MiB
.equ X, 0xA000                  ; the virtual page whose mapping changes
.equ OLD, 0xB000                ; its first frame
.equ NEW, 0xC000                ; its second frame
.equ KRW, 3                     ; present | writable (kernel only)

start:
    mfcr r10, cpuid
    li   r1, 1024
    mul  r1, r10, r1
    sub  sp, sp, r1             ; a stack per CPU
    li   r1, handler
    mtcr evec, r1
    bne  r10, r0, wait_tables

    ; 1. CPU 0: the tables, and a letter in each frame.
    li   r1, PT | KRW
    st   r1, [r0 + PD]
    li   r2, 0
map:
    shl  r1, r2, 12
    or   r1, r1, KRW
    shl  r3, r2, 2
    st   r1, [r3 + PT]          ; page i -> frame i
    add  r2, r2, 1
    li   r3, 16
    bne  r2, r3, map
    li   r1, OLD | KRW
    st   r1, [r0 + PT + (X >> 12) * 4]
    li   r1, 'O'
    st   r1, [r0 + OLD]
    li   r1, 'N'
    st   r1, [r0 + NEW]
    li   r1, 1
    st   r1, [r0 + tables_ready]
    jmp  paging_on
wait_tables:
    ld   r1, [r0 + tables_ready]
    beq  r1, r0, wait_tables
paging_on:
    li   r1, PD
    mtcr ptbr, r1
    li   r1, ST_KM | ST_PG
    mtcr status, r1
    bne  r10, r0, cpu1

cpu0:
    li   r2, 1
    call wait_step              ; 2. CPU 1 has read X once
    li   r1, NEW | KRW          ; 3. remap X
    st   r1, [r0 + PT + (X >> 12) * 4]
    tlbflush                    ; this CPU's TLB only
    ld   r1, [r0 + X]
    st   r1, [r0 + seen0]
    li   r1, 2
    st   r1, [r0 + step]
    li   r2, 3
    call wait_step              ; 4. CPU 1 has read X again
    li   r1, 1
    out  PORT_IPI, r1           ; 5. the shootdown
    li   r2, 4
    call wait_step              ; 6. CPU 1 has read X after its flush

    li   r1, msg1
    call puts
    ld   r1, [r0 + seen1a]
    call putc
    li   r1, msg2
    call puts
    ld   r1, [r0 + seen0]
    call putc
    li   r1, msg3
    call puts
    ld   r1, [r0 + seen1b]
    call putc
    li   r1, msg4
    call puts
    ld   r1, [r0 + seen1c]
    call putc
    call newline
    halt

cpu1:
    ld   r1, [r0 + X]           ; 2. fills CPU 1's TLB with X -> OLD
    st   r1, [r0 + seen1a]
    li   r1, 1
    st   r1, [r0 + step]
    li   r2, 2
    call wait_step
    ld   r1, [r0 + X]           ; 4. a TLB hit: the old frame
    st   r1, [r0 + seen1b]
    li   r1, 3
    st   r1, [r0 + step]
flush_wait:                     ; 5. wait for the IPI (checked with IE off: none is lost)
    cli
    ld   r1, [r0 + flushed]
    bne  r1, r0, flushed_now
    wfi
    sti                         ; the handler runs at the next boundary
    nop
    jmp  flush_wait
flushed_now:
    ld   r1, [r0 + X]           ; 6. a TLB miss: the walk finds the new frame
    st   r1, [r0 + seen1c]
    li   r1, 4
    st   r1, [r0 + step]
park:
    wfi
    jmp  park

; wait_step: spin until `step` equals r2
wait_step:
    ld   r1, [r0 + step]
    bne  r1, r2, wait_step
    ret

; The IPI handler: the shootdown's other half.
handler:
    push r1
    tlbflush
    li   r1, 1
    st   r1, [r0 + flushed]
    pop  r1
    iret

.include "lib/io.s"

msg1: .asciz "CPU 1 reads X: "
msg2: .asciz "\nCPU 0 remaps X and reads: "
msg3: .asciz "\nCPU 1 reads X before the shootdown (its stale TLB entry): "
msg4: .asciz "\nCPU 1 reads X after the IPI and its tlbflush: "

.align 4
tables_ready: .word 0
step:         .word 0
flushed:      .word 0
seen0:        .word 0
seen1a:       .word 0
seen1b:       .word 0
seen1c:       .word 0
