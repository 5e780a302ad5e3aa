; disk.s -- the block device: DMA, flush, status codes and the completion interrupt.
;
; Run it:   truncate -s 8K /tmp/disk.img           (any file works; 8K = 16 sectors)
;           hv run guests/disk.s --disk /tmp/disk.img
;           hv run guests/disk.s --disk /tmp/disk.img     (again: the run count goes up)
;           hv run guests/disk.s                          (no disk: says so, exits 0)
;
; What it does:
;   1. asks the disk for its size (port 0x34);
;   2. reads sector 0, which holds a run counter ("HVDK" and a word), adds one and writes
;      it back, so the disk remembers how often this program has used it;
;   3. writes a message into sector 1 and flushes the disk (command 3), which is the moment
;      the bytes reach the file on the host;
;   4. reads sector 1 back into a second, empty buffer, this time with the completion
;      interrupt turned on, and waits for it with `wfi`;
;   5. prints what came back, and shows the error status of a read past the end.
;
; What it shows:
;   - programming a device through ports: sector (0x30), DMA address (0x31), sector count
;     (0x32), then the command (0x33); `in rX, 0x33` is the status of the last command
;     (0 ok, 1 no disk, 2 sectors outside the disk, 3 DMA outside memory, 4 bad command);
;   - DMA: the disk copies whole 512-byte sectors straight to or from physical memory, so
;     the program hands it the address of a buffer, never the data itself;
;   - a device interrupt (cause 17) taken through `evec`, and the race-free way to wait
;     for one: check with interrupts off, `wfi`, then open the window with `sti`.
;
; What to look for: the counter in sector 0 survives from one run to the next, because it
; lives in the disk file, not in the machine's memory.

.equ SECTOR_SIZE, 512
.equ CMD_READ, 1
.equ CMD_WRITE, 2
.equ CMD_FLUSH, 3
.equ ST_NO_DISK, 1
.equ MAGIC, 'H' | 'V' << 8 | 'D' << 16 | 'K' << 24     ; "HVDK" as a little-endian word

.include "lib/hw.s"             ; the machine's numbers by name (PORT_..., CAUSE_...)
.entry main

main:
    li   r1, on_trap            ; the only trap we expect is the disk's interrupt
    mtcr evec, r1

    ; --- 1. Is there a disk, and how big is it? ---------------------------------------
    li   r1, 0                  ; read sector 0 into buf_a
    li   r2, buf_a
    li   r3, 1
    li   r4, CMD_READ
    call disk_command           ; r1 = status
    li   r2, ST_NO_DISK
    bne  r1, r2, have_disk
    li   r1, s_no_disk
    call puts
    halt                        ; not an error: the demo just has nothing to work on
have_disk:
    li   r2, 0
    beq  r1, r2, read_ok
    li   r1, s_too_small         ; status 2: not even one sector (an empty file)
    call puts
    li   r1, 1
    out  PORT_POWER, r1               ; power off with exit status 1
read_ok:
    li   r1, s_size
    call puts
    in   r1, PORT_DISK_SIZE               ; the size in sectors
    mov  r10, r1
    call print_uint
    li   r1, s_sectors
    call puts
    mul  r1, r10, SECTOR_SIZE
    call print_uint
    li   r1, s_bytes
    call puts
    li   r1, 2
    bge  r10, r1, big_enough    ; sector 1 has to exist
    li   r1, s_too_small
    call puts
    li   r1, 1
    out  PORT_POWER, r1
big_enough:

    ; --- 2. The run counter in sector 0 ----------------------------------------------
    li   r5, buf_a
    ld   r1, [r5]
    li   r2, MAGIC
    beq  r1, r2, counter_ok
    li   r1, s_fresh            ; no magic: a fresh disk, start counting from 0
    call puts
    li   r2, MAGIC
    st   r2, [r5]
    li   r2, 0
    st   r2, [r5 + 4]
counter_ok:
    ld   r1, [r5 + 4]
    add  r1, r1, 1
    st   r1, [r5 + 4]
    mov  r11, r1
    li   r1, s_run
    call puts
    mov  r1, r11
    call print_uint
    call newline
    li   r1, 0                  ; write buf_a back to sector 0
    li   r2, buf_a
    li   r3, 1
    li   r4, CMD_WRITE
    call disk_command
    call check_status

    ; --- 3. A message into sector 1, then flush --------------------------------------
    ; The message is already in memory (`message`, padded to a whole sector), so DMA can
    ; take it from there.
    li   r1, 1
    li   r2, message
    li   r3, 1
    li   r4, CMD_WRITE
    call disk_command
    call check_status
    li   r4, CMD_FLUSH          ; until now the writes were only in the device's cache
    out  PORT_DISK_CMD, r4
    in   r1, PORT_DISK_CMD
    call check_status
    li   r1, s_written
    call puts

    ; --- 4. Read sector 1 back, with the completion interrupt -------------------------
    li   r1, 1
    out  PORT_DISK_IRQ, r1               ; raise cause 17 when a command completes
    li   r1, 1
    li   r2, buf_b              ; buf_b is all zeros: whatever shows up came from the disk
    li   r3, 1
    li   r4, CMD_READ
    call disk_command           ; DMA is synchronous: done now, interrupt pending
    call check_status
    ; Wait for the interrupt. With interrupts off, look at the flag the handler sets; if it
    ; is not set yet, `wfi` (it returns when an interrupt is pending, even with IE = 0),
    ; then `sti` lets the pending interrupt in, and the handler runs right after it.
    ; Checking with interrupts on instead could miss an interrupt that arrives between
    ; the check and the `wfi`, and sleep forever.
wait_irq:
    cli
    li   r2, irq_seen
    ld   r1, [r2]
    li   r2, 0
    bne  r1, r2, got_irq
    wfi
    sti                         ; <- the interrupt is taken here
    jmp  wait_irq
got_irq:
    li   r1, 0
    out  PORT_DISK_IRQ, r1               ; no more interrupts from the disk

    ; --- 5. Print what came back, and one error ---------------------------------------
    li   r1, s_read_back
    call puts
    li   r1, buf_b
    call puts                   ; the message is NUL-terminated, like any string

    li   r1, s_past_end
    call puts
    mov  r1, r10                ; sector number = size: the first one past the end
    li   r2, buf_b
    li   r3, 1
    li   r4, CMD_READ
    call disk_command
    call print_uint
    li   r1, s_status2
    call puts
    halt

; disk_command: r1 = first sector, r2 = DMA address, r3 = sector count, r4 = command.
; Returns the status in r1. The command has finished when the `out` retires.
disk_command:
    out  PORT_DISK_SECTOR, r1
    out  PORT_DISK_ADDR, r2
    out  PORT_DISK_COUNT, r3
    out  PORT_DISK_CMD, r4
    in   r1, PORT_DISK_CMD
    ret

; check_status: stop with a message unless r1 (a disk status) is 0.
check_status:
    li   r2, 0
    bne  r1, r2, disk_failed
    ret
disk_failed:
    mov  r2, r1
    li   r1, s_failed
    call puts
    mov  r1, r2
    call print_uint
    call newline
    li   r1, 1
    out  PORT_POWER, r1

; The trap handler. Only the disk's completion interrupt is expected here; anything else
; is a bug, and stops the machine with its cause as the exit status.
on_trap:
    push r1
    push r2
    mfcr r1, cause
    li   r2, 17                 ; device interrupt
    bne  r1, r2, unexpected
    li   r1, s_irq
    call puts
    li   r2, irq_seen
    li   r1, 1
    st   r1, [r2]
    pop  r2
    pop  r1
    iret                        ; back to the instruction after `sti`, interrupts on again
unexpected:
    out  PORT_POWER, r1

irq_seen:       .word 0

s_no_disk:      .asciz "no disk attached: run with --disk FILE to see the demo\n"
s_too_small:    .asciz "the disk is too small: it needs at least 2 sectors (1024 bytes)\n"
s_size:         .asciz "disk: "
s_sectors:      .asciz " sectors, "
s_bytes:        .asciz " bytes\n"
s_fresh:        .asciz "a fresh disk: no run counter in sector 0 yet\n"
s_run:          .asciz "runs of disk.s on this disk so far: "
s_written:      .asciz "wrote a message to sector 1 and flushed it\n"
s_irq:          .asciz "interrupt: disk command complete (cause 17)\n"
s_read_back:    .asciz "read back from sector 1: "
s_past_end:     .asciz "reading the sector past the end gives status "
s_status2:      .asciz " (sectors outside the disk)\n"
s_failed:       .asciz "disk error, status "

; DMA moves whole sectors, so every buffer is a whole sector long.
.align 4
message:
    .asciz "Hello, disk! These bytes went to sector 1 by DMA.\n"
message_text_end:
    .space SECTOR_SIZE - (message_text_end - message)   ; pad with zeros to a whole sector
buf_a:          .space SECTOR_SIZE
buf_b:          .space SECTOR_SIZE

.include "lib/io.s"
