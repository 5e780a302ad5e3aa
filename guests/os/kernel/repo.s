; kernel/repo.s -- code on demand: exec's second chance (docs/mobility.md).
;
; exec looks for a program on the disk first. When the disk has none of that name, it
; calls repo_fetch, which asks the machine's repository device (ports 0x40-0x44) for it:
; the host fetches the image from the code repository, checks it against the repository's
; SHA-256 and copies it into repo_buf by DMA. The kernel then
;   1. checks the image's header and segments (the image is data from outside: every
;      length and address is checked before it is used),
;   2. writes the program to the disk's free space as `hv os` would have (its bytes from
;      USER_BASE on, one sector at a time, built in repo_sect),
;   3. adds it to the directory and writes the directory and the header back,
; and returns the new directory entry, so exec loads it like any other program and the next
; exec of that name never leaves the disk (the disk is the cache).
;
; The fetched bytecode is the same for every core and for the hypervisor: the ISA is the
; abstract machine that lets code move (weak mobility: the code moves, not a running
; process; it starts from its entry point).
;
; Errors: -2 when the repository has no such program (or there is no repository), -1 when
; the fetch fails any other way (unreachable, hash mismatch, too big, timeout, not an image),
; -4 when the disk or its directory is full. The device's status stays readable in port
; 0x43, and the host reports the failure in one line.

.equ REPO_BUF_SIZE, 0x4000          ; the largest image the kernel fetches: 16 KiB (the kernel stays < 64 KiB)
.equ IMG_MAGIC,     0x4d495648      ; "HVIM"
.equ IMG_ENTRY,     8
.equ IMG_NSEG,      12
.equ IMG_SEGS,      20              ; the segment table: address, length, bytes
.equ RS_NOT_FOUND,  1               ; device statuses that mean "no such program"
.equ RS_BAD_NAME,   7
.equ RS_NO_REPO,    9

; repo_fetch: r1 = a program name (NUL-terminated within NAME_MAX bytes). Returns r1 = its
; new directory entry, or -1, -2, -4. Clobbers r1-r7; keeps r8-r14.
repo_fetch:
    push r8
    push r9
    push r13
    push r14
    mov  r8, r1                     ; r8 = the name
    li   r2, 0
repo_f_len:                             ; a name must end within NAME_MAX bytes
    add  r3, r8, r2
    ldb  r3, [r3]
    beq  r3, r0, repo_f_named
    add  r2, r2, 1
    li   r3, NAME_MAX
    bltu r2, r3, repo_f_len
    jmp  repo_f_noprog
repo_f_named:
    ld   r1, [r0 + nprograms]       ; room in the directory (in memory and on the disk)?
    li   r2, MAX_PROGRAMS
    bgeu r1, r2, repo_f_nomem
    shr  r1, r1, 4
    ld   r2, [r0 + disk_hdr + DH_DIRCOUNT]
    bgeu r1, r2, repo_f_nomem

    out  REPO_NAME, r8              ; ask the device
    li   r1, repo_buf
    out  REPO_ADDR, r1
    li   r1, REPO_BUF_SIZE
    out  REPO_SIZE, r1
    li   r1, 1
    out  REPO_CMD, r1
    in   r1, REPO_CMD
    bne  r1, r0, repo_f_failed
    in   r9, REPO_SIZE              ; r9 = the image's size (0 when no device answered)
    li   r2, IMG_SEGS
    bltu r9, r2, repo_f_noprog

    ld   r1, [r0 + repo_buf]        ; the header
    li   r2, IMG_MAGIC
    bne  r1, r2, repo_f_bad
    ld   r13, [r0 + repo_buf + IMG_NSEG]   ; r13 = number of segments
    li   r2, repo_buf + IMG_SEGS    ; r2 walks the segment table
    add  r3, r9, repo_buf           ; r3 = the end of the image
    li   r14, 0                     ; r14 = the program's size from USER_BASE
    li   r4, 0
repo_f_scan:
    beq  r4, r13, repo_f_scanned
    add  r5, r2, 8
    bltu r3, r5, repo_f_bad             ; the segment's header runs past the image
    ld   r6, [r2]                   ; r6 = address
    ld   r7, [r2 + 4]               ; r7 = length
    sub  r1, r3, r5
    bltu r1, r7, repo_f_bad             ; its bytes run past the image
    li   r1, USER_BASE
    bltu r6, r1, repo_f_bad             ; below the user's space
    li   r1, HEAP_LIMIT
    sub  r1, r1, r6
    bltu r1, r7, repo_f_bad             ; past the image's limit (this also catches a wrap)
    add  r1, r6, r7
    sub  r1, r1, USER_BASE
    bgeu r14, r1, repo_f_next
    mov  r14, r1
repo_f_next:
    add  r2, r5, r7
    add  r4, r4, 1
    jmp  repo_f_scan
repo_f_scanned:
    beq  r14, r0, repo_f_bad            ; nothing to run

    call free_sector                ; r1 = the first free sector
    mov  r9, r1                     ; r9 = where the program goes
    add  r2, r14, 511
    shr  r2, r2, 9
    add  r2, r2, r9
    in   r3, 0x34                   ; the disk's size in sectors
    bltu r3, r2, repo_f_nomem

    li   r4, 0                      ; r4 = offset of the sector being written
repo_f_write:
    bgeu r4, r14, repo_f_written
    mov  r1, r4
    call flat_sector                ; repo_sect = the program's bytes at offset r4
    shr  r1, r4, 9
    add  r1, r1, r9
    li   r2, repo_sect
    li   r3, 1
    call disk_write
    bne  r1, r0, repo_f_failed_disk
    add  r4, r4, 512
    jmp  repo_f_write
repo_f_written:
    ld   r5, [r0 + nprograms]       ; the directory entry
    shl  r6, r5, 5
    add  r6, r6, disk_dir           ; r6 = the entry
    li   r2, 0
repo_f_name:                            ; the name, NUL-padded to 20 bytes
    add  r3, r8, r2
    ldb  r3, [r3]
    add  r7, r6, r2
    stb  r3, [r7]
    add  r2, r2, 1
    beq  r3, r0, repo_f_pad
    jmp  repo_f_name
repo_f_pad:
    li   r3, NAME_MAX
    bgeu r2, r3, repo_f_fields
    add  r7, r6, r2
    stb  r0, [r7]
    add  r2, r2, 1
    jmp  repo_f_pad
repo_f_fields:
    st   r9, [r6 + DE_START]
    st   r14, [r6 + DE_SIZE]
    ld   r1, [r0 + repo_buf + IMG_ENTRY]
    st   r1, [r6 + DE_ENTRY]
    add  r5, r5, 1
    st   r5, [r0 + nprograms]
    st   r5, [r0 + disk_hdr + DH_COUNT]
    li   r1, 0                      ; write the header back...
    li   r2, disk_hdr
    li   r3, 1
    call disk_write
    bne  r1, r0, repo_f_failed_disk
    sub  r5, r5, 1                  ; ...and the directory sector holding the entry
    shr  r5, r5, 4
    ld   r1, [r0 + disk_hdr + DH_DIRSECT]
    add  r1, r1, r5
    shl  r2, r5, 9
    add  r2, r2, disk_dir
    li   r3, 1
    call disk_write
    bne  r1, r0, repo_f_failed_disk
    VMSG s_fetched
    mov  r1, r6
    jmp  repo_f_return

repo_f_failed:                          ; r1 = the device's status
    li   r2, RS_NOT_FOUND
    beq  r1, r2, repo_f_noprog
    li   r2, RS_BAD_NAME
    beq  r1, r2, repo_f_noprog
    li   r2, RS_NO_REPO
    beq  r1, r2, repo_f_noprog
repo_f_bad:
    VMSG s_fetch_failed
    li   r1, E_INVAL
    jmp  repo_f_return
repo_f_failed_disk:
    VMSG s_fetch_failed
repo_f_nomem:
    li   r1, E_NOMEM
    jmp  repo_f_return
repo_f_noprog:
    li   r1, E_NOPROG
repo_f_return:
    pop  r14
    pop  r13
    pop  r9
    pop  r8
    ret

; disk_write: r3 sectors from physical address r2 to sector r1. r1 = the disk's status.
disk_write:
    out  0x30, r1
    out  0x31, r2
    out  0x32, r3
    li   r1, 2
    out  0x33, r1
    in   r1, 0x33
    ret

; free_sector: r1 = the first sector after every program on the disk.
free_sector:
    ld   r1, [r0 + disk_hdr + DH_DIRSECT]
    ld   r2, [r0 + disk_hdr + DH_DIRCOUNT]
    add  r1, r1, r2                 ; at least past the directory
    li   r2, disk_dir
    ld   r3, [r0 + nprograms]
    shl  r3, r3, 5
    add  r3, r3, r2
repo_fs_entry:
    bgeu r2, r3, repo_fs_done
    ld   r4, [r2 + DE_SIZE]
    add  r4, r4, 511
    shr  r4, r4, 9
    ld   r5, [r2 + DE_START]
    add  r4, r4, r5                 ; the sector after this program
    bgeu r1, r4, repo_fs_next
    mov  r1, r4
repo_fs_next:
    add  r2, r2, DE_SIZE_OF
    jmp  repo_fs_entry
repo_fs_done:
    ret

; flat_sector: fill repo_sect with the program's bytes at offsets r1 .. r1+511 from
; USER_BASE: each segment's bytes that fall there, zeros elsewhere. r13 = number of
; segments (checked by repo_fetch). Keeps r1, r4, r8-r14.
flat_sector:
    push r4
    push r8
    push r9
    push r10
    li   r2, repo_sect
    add  r3, r2, 512
repo_fl_zero:
    bgeu r2, r3, repo_fl_segments
    st   r0, [r2]
    add  r2, r2, 4
    jmp  repo_fl_zero
repo_fl_segments:
    add  r9, r1, 512                ; r9 = the sector's end offset
    li   r2, repo_buf + IMG_SEGS
    li   r4, 0
repo_fl_seg:
    beq  r4, r13, repo_fl_done
    ld   r5, [r2]
    sub  r5, r5, USER_BASE          ; r5 = the segment's offset
    ld   r6, [r2 + 4]               ; r6 = its length
    add  r7, r2, 8                  ; r7 = its bytes
    add  r2, r7, r6                 ; (the next segment)
    mov  r3, r1                     ; r3 = max(r1, r5): the first offset to copy
    bgeu r3, r5, repo_fl_lo
    mov  r3, r5
repo_fl_lo:
    add  r8, r5, r6                 ; r8 = min(r9, r5 + r6): the end
    bgeu r9, r8, repo_fl_copy
    mov  r8, r9
repo_fl_copy:
    bgeu r3, r8, repo_fl_segdone
    sub  r6, r3, r5                 ; the byte at offset r3 is segment byte r3 - r5
    add  r6, r6, r7
    ldb  r6, [r6]
    sub  r10, r3, r1                ; and goes to repo_sect + r3 - r1
    stb  r6, [r10 + repo_sect]
    add  r3, r3, 1
    jmp  repo_fl_copy
repo_fl_segdone:
    add  r4, r4, 1
    jmp  repo_fl_seg
repo_fl_done:
    pop  r10
    pop  r9
    pop  r8
    pop  r4
    ret

s_fetched:      .asciz "exec: fetched the program from the code repository, cached on the disk\n"
s_fetch_failed: .asciz "exec: the code repository could not give the program\n"

    .align 4
repo_sect:      .space 512
repo_buf:       .space REPO_BUF_SIZE
