; big_dma.s -- hostile guest: the largest disk read its memory allows, on every `out`.
;
; Run it:   truncate -s 32M /tmp/big.img
;           hv boot guests/fib.s guests/hostile/big_dma.s:mem=33M,disk=/tmp/big.img \
;               --max-steps 400000
;
; The attack: one `out 0x33` asks the disk for as many sectors as fit in the guest's memory
; above its code (32 MiB with --mem 33M), again and again. For the guest it is one
; instruction; for the host it is a 32 MiB copy. A scheduler that counts only guest
; instructions lets this guest hold the host for seconds per slice.
;
; What must happen: a command moves at most 2048 sectors (1 MiB); a larger one is refused
; with status 6 and moves nothing. So the guest asks for 2048 sectors at a time, forever.
; Each transfer is charged to this guest's share of host time and I/O; when its share is
; spent it loses the rest of its slice, and `fib.s` beside it finishes within a few times its
; solo wall time. Its output is that of the bare machine:
;
;     whole disk at once: status 6
;     1 MiB at a time: status 0

.equ BUF, 0x1000                ; everything above the first page is the buffer
.equ MAX, 2048                  ; the most sectors one command may move

.entry boot

boot:
    mov  r10, sp                ; sp starts at the top of memory: the memory size
    sub  r10, r10, BUF
    shr  r10, r10, 9            ; sectors that fit above BUF
    in   r11, 0x34              ; sectors on the disk
    bltu r10, r11, sized
    mov  r10, r11
sized:
    li   r1, s_whole
    call puts
    call read                   ; all of it in one command
    call status
    li   r1, MAX
    bgeu r1, r10, small
    mov  r10, r1                ; at most MAX from now on
small:
    li   r1, s_max
    call puts
    call read
    call status
again:
    call read
    jmp  again

; read: r10 sectors from sector 0 into BUF
read:
    li   r1, 0
    out  0x30, r1
    li   r1, BUF
    out  0x31, r1
    out  0x32, r10
    li   r1, 1
    out  0x33, r1
    ret

; status: print the disk's last status as a digit and a newline
status:
    in   r1, 0x33
    add  r1, r1, '0'
    out  0x10, r1
    li   r1, 10
    out  0x10, r1
    ret

; puts: print the zero-terminated string at r1
puts:
    li   r3, 0
puts_next:
    ldb  r2, [r1]
    beq  r2, r3, puts_done
    out  0x10, r2
    add  r1, r1, 1
    jmp  puts_next
puts_done:
    ret

s_whole: .asciz "whole disk at once: status "
s_max:   .asciz "1 MiB at a time: status "
