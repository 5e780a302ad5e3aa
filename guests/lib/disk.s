; guests/lib/disk.s -- driving the block device from programs that test it.
;
; disk_request: print the label at r1, issue one disk command (sector r11, guest-physical
;   address r12, sector count r13, command r14: PORT_DISK_SECTOR .. PORT_DISK_CMD in
;   docs/isa.md), then print ": status N" with the status the command left. Preserves
;   r11..r14; r1 holds the status on return.
; checksum: r1 = a rolling sum of the r2 bytes at r1 (add each byte, rotate left by 5), so
;   all zeroes sum to 0 and a moved byte changes the sum. Preserves r2..r5.
;
; Needs guests/lib/io.s (puts, print_uint, newline).

disk_request:
    call puts
    out  0x30, r11                  ; PORT_DISK_SECTOR
    out  0x31, r12                  ; PORT_DISK_ADDR
    out  0x32, r13                  ; PORT_DISK_COUNT
    out  0x33, r14                  ; PORT_DISK_CMD: starts the transfer
    in   r1, 0x33                   ; ... and reads back its status
    push r1
    li   r1, disk_status_msg
    call puts
    pop  r1
    call print_uint
    call newline
    ret

checksum:
    push r2
    push r3
    push r4
    push r5
    mov  r3, r1
    li   r1, 0
cs_loop:
    li   r4, 0
    beq  r2, r4, cs_done
    ldb  r4, [r3]
    shl  r5, r1, 5
    shr  r1, r1, 27
    or   r1, r1, r5
    add  r1, r1, r4
    add  r3, r3, 1
    sub  r2, r2, 1
    jmp  cs_loop
cs_done:
    pop  r5
    pop  r4
    pop  r3
    pop  r2
    ret

disk_status_msg: .asciz ": status "
