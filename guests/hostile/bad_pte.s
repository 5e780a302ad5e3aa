; bad_pte.s -- hostile guest: page-table entries that point past the guest's memory.
;
; Run it:   hv run guests/hostile/bad_pte.s     /     hv boot guests/hostile/bad_pte.s
;
; The attack: the kernel builds page tables whose entries name physical frames it was never
; given: the first frame past its 64 KiB (0x10000), a huge frame (0x7ffff000), the last
; frame of the 32-bit space (0xfffff000, "-1"), a frame with the sign bit set (0x80000000),
; and directory entries whose *tables* lie outside memory (including an entry of all ones).
; It then reads, writes and jumps through each of those virtual addresses, and finally
; switches ptbr to a second directory, built in its data, and to an unaligned ptbr.
;
; Under the hypervisor the guest's memory is a handful of frames somewhere in the host's
; pool: right after them lie the guest's own shadow page tables and the next guest's
; memory. A hypervisor that translated guest frame numbers without a bounds check would
; hand this guest those bytes.
;
; What must happen: every such access faults like a non-present page, cause 5 (read),
; 6 (write) or 7 (fetch), with badaddr = the virtual address, exactly as on the bare
; machine (docs/isa.md: "a walk or an access that reaches a physical address outside memory
; faults like a non-present page"). The control mapping (the last real frame) works.

.equ PDIR,    0x8000            ; the page directory
.equ PT_LOW,  0x9000            ; identity map of the 16 real pages (0x000000-0x3fffff)
.equ PT_BAD,  0xa000            ; 0x400000-0x7fffff: entries pointing past memory
.equ P, 1
.equ W, 2
.equ U, 4

.include "../lib/paging.s"

.entry boot

boot:
    li   r1, report_fault
    mtcr evec, r1
    li   r7, 0x5a5a5a5a         ; what the stores try to write

    IDENTITY_MAP PT_LOW, 16        ; the 16 pages the guest has, at their own addresses

    ; the hostile table: 0x400000 + n * 0x1000 -> bad frame n
    li   r2, 0
bad_fill:
    shl  r5, r2, 2
    ld   r4, [r5 + bad_frames]
    st   r4, [r5 + PT_BAD]
    add  r2, r2, 1
    li   r4, NBAD
    blt  r2, r4, bad_fill

    li   r6, PDIR
    li   r4, PT_LOW | P | W
    st   r4, [r6]               ; 0x000000: the identity map
    li   r4, PT_BAD | P | W | U
    st   r4, [r6 + 4]           ; 0x400000: the bad frames
    li   r4, 0x10000 | P | W | U
    st   r4, [r6 + 8]           ; 0x800000: a table just past memory
    li   r4, 0xfffff000 | P | W | U
    st   r4, [r6 + 12]          ; 0xc00000: a table at the top of the address space
    li   r4, 0xffffffff
    st   r4, [r6 + 16]          ; 0x1000000: every bit set
    li   r4, 0x80000000 | P | W | U
    st   r4, [r6 + 20]          ; 0x1400000: a "negative" table address

    PAGING_ON PDIR                 ; kernel mode, paging on
    li   r1, s_on
    call puts

    ; 0x400000 + n * 0x1000 for every bad frame, and the last one is the control
    li   r9, 0
probe_frames:
    shl  r6, r9, 12
    add  r6, r6, 0x400000
    call probe
    add  r9, r9, 1
    li   r4, NBAD
    blt  r9, r4, probe_frames

    li   r6, 0x800000
    call probe
    li   r6, 0xc00000
    call probe
    li   r6, 0x1000000
    call probe
    li   r6, 0x1400000
    call probe

    ; ptbr games: a second directory in the guest's data (its first entry copied, so the
    ; kernel keeps running), whose other entries point outside memory.
    li   r1, s_dir2
    call puts
    li   r6, PDIR
    ld   r4, [r6]
    li   r6, dir2
    st   r4, [r6]
    li   r1, dir2
    mtcr ptbr, r1
    li   r6, 0x400000           ; dir2[1] = 0x00010007: a table just past memory
    call probe
    li   r6, 0x800000           ; dir2[2] = 0xfffff007
    call probe

    li   r1, s_unaligned        ; the low 12 bits of ptbr are ignored
    call puts
    li   r1, PDIR | 0xfff
    mtcr ptbr, r1
    li   r6, 0x400000
    call probe
    li   r6, 0x400000 + (NBAD - 1) * 0x1000
    call probe

    li   r1, s_done
    call puts
    halt

; probe: read, write and jump to the virtual address r6, reporting each outcome.
probe:
    li   r1, s_probe
    call puts
    mov  r1, r6
    call print_hex
    call newline
    li   r10, probe_write
    ld   r1, [r6]
    push r1
    li   r1, s_read_ok          ; no fault: say what was read
    call puts
    pop  r1
    call print_hex
    call newline
probe_write:
    li   r10, probe_fetch
    st   r7, [r6]
    li   r1, s_write_ok
    call puts
probe_fetch:
    li   r10, probe_done
    jmp  r6                     ; the control frame holds 0: an illegal instruction (4)
probe_done:
    ret

.include "../lib/fault.s"          ; report_fault: print the fault, resume at r10

bad_frames:
    .word 0x00010000 | P | W | U
    .word 0x00011000 | P | W | U
    .word 0x7ffff000 | P | W | U
    .word 0x80000000 | P | W | U
    .word 0xfffff000 | P | W | U
    .word 0xffffffff
    .word 0x0000f000 | P | W | U    ; the control: the guest's own last frame
.equ NBAD, 7

.align 4096
dir2:
    .word 0
    .word 0x00010000 | P | W | U
    .word 0xfffff000 | P | W | U
    .space 4096 - 12

s_on:       .asciz "paging on\n"
s_probe:    .asciz "probe "
s_read_ok:  .asciz "  read ok: "
s_write_ok: .asciz "  write ok\n"
s_dir2:     .asciz "ptbr -> a second directory in the guest's data\n"
s_unaligned: .asciz "ptbr unaligned (PDIR | 0xfff)\n"
s_done:     .asciz "bad_pte done\n"

.include "../lib/io.s"
