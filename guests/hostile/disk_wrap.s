; disk_wrap.s -- hostile guest: disk requests whose sizes wrap around 2^32.
;
; Run it:   truncate -s 8K /tmp/d.img && hv run guests/hostile/disk_wrap.s --disk /tmp/d.img
;           (and the same with hv boot; without a disk every command answers 1, "no disk")
;
; The attack: a disk request is four numbers the guest chooses freely: first sector, DMA
; address, sector count, command. The device computes sector x 512, count x 512 and
; address + length. In 32-bit arithmetic those wrap: sector 0x00800000 x 512 is 2^32, i.e.
; byte 0 of the disk; count 0x00800000 x 512 is a length of 0; address 0xfffffe00 + 512 is
; 0. A device model that wrapped would pass its range checks and copy to or from the wrong
; place: under the hypervisor, DMA is the one way the host itself writes into guest memory,
; so a wrapped range could land in another guest's frames.
;
; What must happen: each request is judged with exact arithmetic and refused, with status
; 2 (sector range outside the disk) or 3 (DMA range outside memory), and a refused request
; transfers nothing: the buffers and the disk keep their contents (docs/isa.md, Disk).
; A sane request still works, so the disk is really there.

.equ CMD_READ, 1
.equ CMD_WRITE, 2
.equ CMD_BOGUS, 7

.entry boot

boot:
    li   sp, 0xe000             ; keep the stack out of the last page, which we check
    li   r1, s_size
    call puts
    in   r1, 0x34               ; sectors on the disk
    call print_uint
    call newline

    ; a known sector 0, so we can tell whether a refused write changed the disk
    li   r11, 0
    li   r12, buf_a
    li   r13, 1
    li   r14, CMD_WRITE
    li   r1, s_sane_write
    call disk_request

    li   r1, s_sector_x512      ; 0x00800000 * 512 = 2^32 -> byte 0 if it wrapped
    li   r11, 0x00800000
    li   r12, buf_b
    li   r13, 1
    li   r14, CMD_READ
    call disk_request
    li   r1, s_sector_top       ; sector + count = 2^32 -> 0 if it wrapped
    li   r11, 0xffffffff
    li   r13, 1
    call disk_request
    li   r1, s_sector_top2      ; sector + count = 2^32 + 1 -> 1 if it wrapped
    li   r13, 2
    call disk_request
    li   r1, s_count_top        ; count 0xffffffff: 1 + count wraps to 0
    li   r11, 1
    li   r13, 0xffffffff
    call disk_request
    li   r1, s_count_x512       ; count * 512 = 2^32 -> a length of 0 if it wrapped
    li   r11, 0
    li   r13, 0x00800000
    call disk_request
    li   r1, s_count_x512w      ; the same as a write
    li   r14, CMD_WRITE
    call disk_request

    li   r1, s_addr_wrap        ; address + 512 = 2^32 -> 0 if it wrapped
    li   r11, 0
    li   r12, 0xfffffe00
    li   r13, 1
    li   r14, CMD_READ
    call disk_request
    li   r1, s_addr_wrapw       ; the same as a write: would copy memory 0.. to the disk
    li   r14, CMD_WRITE
    call disk_request
    li   r1, s_addr_top
    li   r12, 0xffffffff
    li   r14, CMD_READ
    call disk_request
    li   r1, s_addr_end         ; 0xff00 + 512: half inside, half outside
    li   r12, 0xff00
    call disk_request
    li   r1, s_addr_past        ; the first byte past memory
    li   r12, 0x10000
    call disk_request
    li   r1, s_count0_past      ; nothing to move, but the address is outside
    li   r12, 0xffffffff
    li   r13, 0
    call disk_request
    li   r1, s_count0_end       ; nothing to move, at the very end of memory
    li   r12, 0x10000
    li   r13, 0
    call disk_request
    li   r1, s_bogus
    li   r12, buf_b
    li   r13, 1
    li   r14, CMD_BOGUS
    call disk_request

    ; nothing may have moved: buf_b and the bytes at 0xff00 are still zero ...
    li   r1, s_sum_b
    call puts
    li   r1, buf_b
    li   r2, 512
    call checksum
    call print_hex
    call newline
    li   r1, s_sum_end
    call puts
    li   r1, 0xff00
    li   r2, 256
    call checksum
    call print_hex
    call newline
    ; ... and sector 0 of the disk is still buf_a
    li   r1, s_sane_read
    li   r11, 0
    li   r12, buf_b
    li   r13, 1
    li   r14, CMD_READ
    call disk_request
    li   r1, s_sum_b
    call puts
    li   r1, buf_b
    li   r2, 512
    call checksum
    call print_hex
    call newline
    li   r1, s_sum_a
    call puts
    li   r1, buf_a
    li   r2, 512
    call checksum
    call print_hex
    call newline
    halt

.include "../lib/disk.s"           ; disk_request, checksum

s_size:       .asciz "disk sectors: "
s_sane_write: .asciz "write sector 0 from buf_a"
s_sane_read:  .asciz "read sector 0 into buf_b"
s_sector_x512: .asciz "read sector 0x00800000"
s_sector_top: .asciz "read sector 0xffffffff, count 1"
s_sector_top2: .asciz "read sector 0xffffffff, count 2"
s_count_top:  .asciz "read sector 1, count 0xffffffff"
s_count_x512: .asciz "read count 0x00800000"
s_count_x512w: .asciz "write count 0x00800000"
s_addr_wrap:  .asciz "read to 0xfffffe00"
s_addr_wrapw: .asciz "write from 0xfffffe00"
s_addr_top:   .asciz "read to 0xffffffff"
s_addr_end:   .asciz "read to 0xff00"
s_addr_past:  .asciz "read to 0x10000"
s_count0_past: .asciz "read 0 sectors to 0xffffffff"
s_count0_end: .asciz "read 0 sectors to 0x10000"
s_bogus:      .asciz "command 7"
s_sum_b:      .asciz "checksum of buf_b: "
s_sum_a:      .asciz "checksum of buf_a: "
s_sum_end:    .asciz "checksum of 0xff00..0xffff: "

.include "../lib/io.s"

.align 512
buf_a:
    .ascii "sector zero, written by disk_wrap.s; any wrapped request would change it. "
.align 512
buf_b:
    .space 512
