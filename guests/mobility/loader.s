; loader.s -- code on demand: fetch a program from the code repository and run it.
;
; Run it:   hv repo add /tmp/repo guests/hello.s
;           hv run guests/mobility/loader.s --repo /tmp/repo --input hello
;
; What it does:
;   1. reads a program name from the console input (a line; "hello" when there is none);
;   2. asks the repository device to fetch that program's image into a buffer: the name's
;      address (port 0x40), the buffer's address (0x41) and size (0x42), then the command
;      (0x43, 1 = fetch); `in rX, 0x43` is the status and `in rX, 0x42` the image's size;
;   3. checks the image's header ("HVIM"), copies each segment to its address, and jumps to
;      the program's entry point in the boot state of a fresh machine: every register 0 but
;      sp, which is the top of memory.
;
; What it shows:
;   - weak mobility: only code moves. The machine booted without the program; the program
;     arrives as bytes, is checked by the host against the repository's SHA-256, and starts
;     from its beginning (no execution state came with it);
;   - the image is the same bytecode for both cores and for the hypervisor: the ISA is the
;     abstract machine that makes the code portable;
;   - a device that can fail in many ways reports a status code instead of hanging:
;     1 no such program, 2 too big, 3 repository unreachable, 4 hash mismatch, 5 timeout.
;
; What to look for: the loader lives high in memory (0xC000) and takes the fetched program's
; bytes into a buffer below it; a program whose segments would overwrite the loader or the
; buffer is refused. On failure the loader prints the status and powers off with it.
;
; Memory map (64 KiB machine): program 0x0000-0x7FFF, buffer 0x8000-0xBFFF, loader 0xC000-.

.include "../lib/hw.s"              ; REPO_NAME, REPO_ADDR, REPO_SIZE, REPO_CMD: the device's ports
.equ CMD_FETCH, 1
.equ BUF, 0x8000
.equ BUF_SIZE, 0x4000
.equ LIMIT, 0x8000                  ; segments must end at or below this address
.equ MAGIC, 'H' | 'V' << 8 | 'I' << 16 | 'M' << 24

.org 0xC000
.entry main

main:
    mov  r14, sp                    ; remember the top of memory for the program's boot state
    call read_name

    li   r1, msg_fetch
    call puts
    li   r1, name
    call puts
    call newline

    li   r1, name                   ; program the device, then issue the command
    out  REPO_NAME, r1
    li   r1, BUF
    out  REPO_ADDR, r1
    li   r1, BUF_SIZE
    out  REPO_SIZE, r1
    li   r1, CMD_FETCH
    out  REPO_CMD, r1               ; completes during this instruction
    in   r2, REPO_CMD               ; r2 = status
    li   r3, 0
    bne  r2, r3, failed

    in   r9, REPO_SIZE              ; r9 = the image's size in bytes
    li   r1, msg_got
    call puts
    mov  r1, r9
    call print_uint
    li   r1, msg_bytes
    call puts

    ; --- the image header: "HVIM", u16 version, u16 flags, u32 entry, u32 nseg, u32 nsym
    li   r4, BUF
    ld   r1, [r4]
    li   r2, MAGIC
    bne  r1, r2, not_image
    ld   r10, [r4 + 8]              ; r10 = entry point
    ld   r11, [r4 + 12]             ; r11 = number of segments
    add  r12, r4, 20                ; r12 walks the segment table

copy_segment:
    li   r3, 0
    beq  r11, r3, start_program
    ld   r5, [r12]                  ; r5 = segment address
    ld   r6, [r12 + 4]              ; r6 = segment length
    add  r12, r12, 8
    add  r7, r5, r6                 ; the segment must end below the buffer
    li   r3, LIMIT
    bltu r3, r7, too_high
    bltu r7, r5, too_high           ; (and not wrap around)
copy_byte:                          ; copy r6 bytes from r12 to r5
    li   r3, 0
    beq  r6, r3, segment_done
    ldb  r1, [r12]
    stb  r1, [r5]
    add  r12, r12, 1
    add  r5, r5, 1
    sub  r6, r6, 1
    jmp  copy_byte
segment_done:
    sub  r11, r11, 1
    jmp  copy_segment

start_program:                      ; the boot state of a fresh machine, then go
    mov  sp, r14
    mov  r13, r10
    li   r1, 0
    li   r2, 0
    li   r3, 0
    li   r4, 0
    li   r5, 0
    li   r6, 0
    li   r7, 0
    li   r8, 0
    li   r9, 0
    li   r10, 0
    li   r11, 0
    li   r12, 0
    li   r14, 0
    jmp  r13                        ; r13 keeps the entry: the one register not cleared

failed:                             ; print the status and power off with it
    li   r1, msg_failed
    call puts
    mov  r1, r2
    call print_uint
    call newline
    out  0xFF, r2

not_image:
    li   r1, msg_not_image
    call puts
    li   r1, 20
    out  0xFF, r1

too_high:
    li   r1, msg_too_high
    call puts
    li   r1, 21
    out  0xFF, r1

; read_name: a line of console input into `name` (at most 63 bytes); "hello" when empty.
read_name:
    li   r4, name
    li   r5, 63                     ; room left
    li   r6, '\n'
    li   r7, -1
rn_loop:
    li   r3, 0
    beq  r5, r3, rn_end
    in   r1, 0x11                   ; -1 when the input is used up
    beq  r1, r7, rn_end
    beq  r1, r6, rn_end
    stb  r1, [r4]
    add  r4, r4, 1
    sub  r5, r5, 1
    jmp  rn_loop
rn_end:
    li   r3, 0
    stb  r3, [r4]
    li   r1, name
    bne  r4, r1, rn_done
    li   r2, default_name           ; nothing typed: copy "hello"
rn_copy:
    ldb  r3, [r2]
    stb  r3, [r1]
    add  r1, r1, 1
    add  r2, r2, 1
    li   r5, 0
    bne  r3, r5, rn_copy
rn_done:
    ret

.include "../lib/io.s"

msg_fetch:     .asciz "loader: fetching "
msg_got:       .asciz "loader: got "
msg_bytes:     .asciz " bytes, starting it\n"
msg_failed:    .asciz "loader: fetch failed, status "
msg_not_image: .asciz "loader: not an hv image\n"
msg_too_high:  .asciz "loader: a segment would overwrite the loader\n"
default_name:  .asciz "hello"
name:          .space 64
