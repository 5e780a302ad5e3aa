; dma.s -- hostile guest: DMA aimed at its own page tables and beyond its memory.
;
; Run it:   truncate -s 8K /tmp/d.img && hv run guests/hostile/dma.s --disk /tmp/d.img
;
; The attack, part 1: the disk writes into memory behind the MMU's back. With paging on,
; the kernel has the disk read crafted sectors straight over its live page table and page
; directory: entries that point past memory, at 0xfffff000, at a table past memory. Under
; the hypervisor the shadow tables were built from the old entries; DMA is done by the host
; itself, so no page fault tells the hypervisor that the tables changed.
;
; The attack, part 2: DMA addresses are guest-physical and the device checks them, not the
; MMU. The kernel aims reads and writes past its memory (0x10000, 0xff00 + 1024,
; 0xfffff000) and at a *virtual* address that its page tables map (0x400000), hoping the
; device will follow the mapping or the host's own layout.
;
; What must happen: after the DMA the kernel flushes (`tlbflush`), as it must after any
; change to its tables, and from then on the new entries count and are checked like any
; other: past memory faults (cause 5). DMA outside the guest's memory is refused with
; status 3 and moves nothing: neither into memory nor, for a disk write, out of the host
; onto the disk.

.equ PDIR,   0x8000
.equ PT_LOW, 0x9000
.equ PT_HI,  0xa000
.equ P, 1
.equ W, 2
.equ CMD_READ, 1
.equ CMD_WRITE, 2

.include "../lib/paging.s"

.entry boot

boot:
    li   sp, 0xe000
    li   r1, on_fault
    mtcr evec, r1
    IDENTITY_MAP PT_LOW, 16        ; the 16 pages the guest has, at their own addresses
    li   r6, PT_HI
    li   r4, 0x5000 | P | W
    st   r4, [r6]               ; 0x400000 -> 0x5000
    li   r4, 0x6000 | P | W
    st   r4, [r6 + 4]           ; 0x401000 -> 0x6000
    li   r6, PDIR
    li   r4, PT_LOW | P | W
    st   r4, [r6]
    li   r4, PT_HI | P | W
    st   r4, [r6 + 4]
    li   r6, 0x5000
    li   r4, 0x11111111
    st   r4, [r6]
    li   r6, 0x6000
    li   r4, 0x22222222
    st   r4, [r6]
    ; the crafted sectors go to the disk first: sector 1 a page table, sector 2 a directory
    li   r11, 1
    li   r12, evil_table
    li   r13, 2
    li   r14, CMD_WRITE
    li   r1, s_stage
    call disk_request
    PAGING_ON PDIR                 ; kernel mode, paging on

    li   r1, s_before
    call puts
    call probe_all              ; the shadow now maps 0x400000 and 0x401000

    li   r1, s_dma_table        ; the disk overwrites the live page table
    li   r11, 1
    li   r12, PT_HI
    li   r13, 1
    li   r14, CMD_READ
    call disk_request
    tlbflush
    call probe_all

    li   r1, s_dma_dir          ; and the live directory: PDIR[1] -> a table past memory
    li   r11, 2
    li   r12, PDIR
    li   r13, 1
    li   r14, CMD_READ
    call disk_request
    tlbflush
    call probe_all

    ; --- part 2: DMA outside memory --------------------------------------------------------
    li   r13, 1
    li   r14, CMD_READ
    li   r11, 0
    li   r1, s_past
    li   r12, 0x10000
    call disk_request
    li   r1, s_end
    li   r12, 0xff00
    li   r13, 2
    call disk_request
    li   r1, s_top
    li   r12, 0xfffff000
    li   r13, 1
    call disk_request
    li   r1, s_virtual
    li   r12, 0x400000
    call disk_request
    li   r14, CMD_WRITE
    li   r11, 3
    li   r1, s_w_past           ; would copy host memory onto the disk
    li   r12, 0x10000
    call disk_request
    li   r1, s_w_end
    li   r12, 0xff00
    li   r13, 2
    call disk_request
    li   r1, s_w_top
    li   r12, 0xfffff000
    li   r13, 1
    call disk_request

    li   r1, s_sum_end          ; nothing arrived at the end of memory
    call puts
    li   r1, 0xff00
    li   r2, 256
    call checksum
    call print_hex
    call newline
    li   r1, s_sector3          ; and nothing left for the disk: sector 3 is still zero
    li   r11, 3
    li   r12, scratch
    li   r13, 1
    li   r14, CMD_READ
    call disk_request
    li   r1, s_sum_s3
    call puts
    li   r1, scratch
    li   r2, 512
    call checksum
    call print_hex
    call newline
    li   r1, s_done
    call puts
    halt

probe_all:
    li   r6, 0x400000
    call probe
    li   r6, 0x401000
    call probe
    li   r6, 0x402000
    call probe
    ret

probe:
    li   r1, s_probe
    call puts
    mov  r1, r6
    call print_hex
    li   r10, probe_done
    ld   r1, [r6]
    push r1
    li   r1, s_reads
    call puts
    pop  r1
    call print_hex
    call newline
probe_done:
    ret

.include "../lib/disk.s"           ; disk_request, checksum

on_fault:
    push r1
    li   r1, s_fault
    call puts
    mfcr r1, cause
    call print_uint
    li   r1, s_badaddr
    call puts
    mfcr r1, badaddr
    call print_hex
    call newline
    pop  r1
    mtcr epc, r10
    iret

s_stage:    .asciz "stage the crafted table and directory on sectors 1-2"
s_before:   .asciz "before: 0x400000 -> 0x5000, 0x401000 -> 0x6000\n"
s_dma_table: .asciz "DMA sector 1 over the live page table"
s_dma_dir:  .asciz "DMA sector 2 over the live page directory"
s_past:     .asciz "read to 0x10000"
s_end:      .asciz "read 2 sectors to 0xff00"
s_top:      .asciz "read to 0xfffff000"
s_virtual:  .asciz "read to 0x400000 (mapped, but DMA is physical)"
s_w_past:   .asciz "write from 0x10000"
s_w_end:    .asciz "write 2 sectors from 0xff00"
s_w_top:    .asciz "write from 0xfffff000"
s_sector3:  .asciz "read sector 3 back"
s_sum_end:  .asciz "checksum of 0xff00..0xffff: "
s_sum_s3:   .asciz "checksum of sector 3: "
s_probe:    .asciz "  "
s_reads:    .asciz " reads "
s_fault:    .asciz " fault: cause "
s_badaddr:  .asciz " badaddr "
s_done:     .asciz "dma done\n"

.include "../lib/io.s"

.align 512
evil_table:                     ; sector 1: a page table for 0x400000..
    .word 0x00010000 | P | W    ; 0x400000 -> the first frame past memory
    .word 0xfffff000 | P | W    ; 0x401000 -> the top of the address space
    .word 0x00006000 | P | W    ; 0x402000 -> a frame of our own (the control)
    .space 512 - 12
evil_dir:                       ; sector 2: a directory
    .word PT_LOW | P | W        ; keep the kernel mapped
    .word 0x00020000 | P | W    ; 0x400000.. -> a table past memory
    .space 512 - 8
scratch:
    .space 512
