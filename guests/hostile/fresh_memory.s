; fresh_memory.s -- hostile guest: look for what someone else left in memory.
;
; Run it:   hv boot guests/fib.s guests/hostile/fresh_memory.s
;
; The attack: a guest is handed memory (frames of the host's pool) that may have belonged
; to another guest before. Before it writes anything, this kernel reads every byte of its
; memory outside its own image, from the end of the image to the top of memory (sp at
; boot), hoping to find another guest's data: keys, disk buffers, page tables.
;
; What must happen: the architecture says "memory outside the image reads 0" at boot. The
; hypervisor zeroes every frame it hands out, so the count of non-zero bytes and the
; checksum are 0 whatever ran before, bare and under the hypervisor. The scan uses
; registers only, so it reads memory exactly as it was handed over.

.entry boot

boot:
    li   r1, image_end          ; the first byte after the image
    mov  r2, sp                 ; the top of memory
    li   r3, 0                  ; non-zero words seen
    li   r4, 0                  ; a checksum of everything seen
    li   r6, 0
scan:                           ; a word at a time (image_end is word-aligned)
    bgeu r1, r2, scanned
    ld   r5, [r1]
    beq  r5, r6, zero
    add  r3, r3, 1
zero:
    shl  r7, r4, 5
    shr  r4, r4, 27
    or   r4, r4, r7
    add  r4, r4, r5
    add  r1, r1, 4
    jmp  scan
scanned:
    mov  r8, r2
    li   r1, s_scanned
    call puts
    li   r2, image_end
    sub  r1, r8, r2
    call print_uint
    li   r1, s_nonzero
    call puts
    mov  r1, r3
    call print_uint
    li   r1, s_checksum
    call puts
    mov  r1, r4
    call print_hex
    call newline
    halt

s_scanned:  .asciz "bytes outside the image: "
s_nonzero:  .asciz ", non-zero words: "
s_checksum: .asciz ", checksum "

.include "../lib/io.s"

.align 4
image_end:
