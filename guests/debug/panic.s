; panic.s -- a small kernel that crashes in a user program's system call: the worked
; example of docs/debugging.md (reverse execution finds the cause from the crash).
;
; Run it:   hv run guests/debug/panic.s        (or hv boot: the same crash, virtualized)
; Debug it: hv debug guests/debug/panic.s
;
; The kernel turns paging on, maps itself (pages 0-4 and 7-15, kernel only) and one user
; program (pages 5 and 6, user), and enters the program in user mode with `iret`. The
; program prints the strings of a table with `write` (sys 2) and ends with `exit` (sys 1).
;
; Two bugs meet here, as they often do in a course:
;   - the user program walks its table until it finds 0, but the table ends with -1, so
;     it calls write(0xffffffff, ...) with the next entry's bytes as the length;
;   - the kernel's write trusts the user's pointer: it reads the first byte, in kernel
;     mode, from an address no page maps, and takes a page fault in its own code. Its trap
;     handler can only panic.
; The console shows the two strings, then the panic, and the machine powers off with 1.

.include "../lib/hw.s"

.equ KSTACK,   0xF000           ; top of the kernel's stack (page 14)
.equ USTACK,   0x7000           ; top of the user's stack (the end of page 6)
.equ PAGEDIR,  0x8000           ; the page directory (page 8)
.equ PAGETAB,  0x9000           ; the one page table: virtual 0..4 MiB (page 9)

.entry start
.org 0

; --- boot: page tables, then the user program ----------------------------------------
start:
    li   sp, KSTACK
    li   r1, trap_entry
    mtcr evec, r1               ; every trap comes to trap_entry
    li   r1, PAGETAB | PTE_PRESENT | PTE_WRITABLE | PTE_USER
    li   r2, PAGEDIR
    st   r1, [r2]               ; directory entry 0 -> the table (rights come from it)
    li   r3, 0                  ; r3 = page number 0..15: identity mapping
map_loop:
    shl  r4, r3, 12
    or   r4, r4, PTE_PRESENT | PTE_WRITABLE
    li   r5, 5
    blt  r3, r5, map_store      ; pages 0-4: the kernel's
    li   r5, 7
    bge  r3, r5, map_store      ; pages 7-15: the kernel's too
    or   r4, r4, PTE_USER       ; pages 5 and 6: the user program's
map_store:
    shl  r6, r3, 2
    st   r4, [r6 + PAGETAB]
    add  r3, r3, 1
    li   r5, 16
    blt  r3, r5, map_loop
    li   r1, PAGEDIR
    mtcr ptbr, r1
    li   r1, ST_KM | ST_PG      ; paging on; PKM = 0, so iret goes to user mode
    mtcr status, r1
    li   r1, user_main
    mtcr epc, r1
    li   sp, USTACK
    iret                        ; -> user_main, in user mode

; --- the trap handler ------------------------------------------------------------------
; Swaps to the kernel stack (the user's r13 waits in `scratch`, the user's sp in
; saved_sp), handles system calls, panics on anything else.
trap_entry:
    mtcr scratch, r13
    li   r13, saved_sp
    st   sp, [r13]
    li   sp, KSTACK
    push r3
    push r4
    mfcr r3, cause
    li   r4, CAUSE_SYSCALL
    bne  r3, r4, panic          ; a fault: from user mode or (worse) from the kernel
    mfcr r3, badaddr            ; `sys n` leaves n in badaddr
    li   r4, 2
    beq  r3, r4, do_write
    li   r4, 1
    beq  r3, r4, do_exit
    li   r1, -1                 ; no such system call
    jmp  trap_return
do_write:
    call sys_write
trap_return:
    pop  r4
    pop  r3
    li   r13, saved_sp
    ld   sp, [r13]
    mfcr r13, scratch
    iret
do_exit:
    out  PORT_POWER, r1         ; exit(status): power off with it

; write(buf = r1, len = r2) -> r1 = len. THE KERNEL'S BUG: buf is the user's pointer, and
; nothing checks that the user may read it (or that anything is mapped there).
sys_write:
    push r5
    push r6
    li   r5, 0                  ; r5 = bytes written
write_loop:
    add  r6, r1, r5
    ldb  r6, [r6]               ; a byte of the user's buffer: faults on a bad pointer
    out  PORT_CONSOLE_OUT, r6
    add  r5, r5, 1
    bltu r5, r2, write_loop
    mov  r1, r2
    pop  r6
    pop  r5
    ret

panic:
    li   r1, panic_msg
    call puts
    mfcr r1, cause
    call print_uint
    li   r1, panic_at
    call puts
    mfcr r1, epc
    call print_hex
    li   r1, panic_addr
    call puts
    mfcr r1, badaddr
    call print_hex
    call newline
    li   r1, 1
    out  PORT_POWER, r1         ; power off with status 1

.include "../lib/io.s"

saved_sp:   .word 0
panic_msg:  .asciz "panic: trap cause "
panic_at:   .asciz " at pc "
panic_addr: .asciz ", address "

; --- the user program (pages 5 and 6) -------------------------------------------------
.org 0x5000
user_main:
    li   r10, messages          ; r10 walks the table: (string, length) pairs
    li   r5, 0
user_loop:
    ld   r1, [r10]              ; the string
    beq  r1, r5, user_done      ; THE USER'S BUG: the table ends with -1, not 0
    ld   r2, [r10 + 4]          ; its length
    sys  2                      ; write(r1, r2)
    add  r10, r10, 8
    jmp  user_loop
user_done:
    li   r1, 0
    sys  1                      ; exit(0)

.org 0x6000
messages:
    .word msg0, 6
    .word msg1, 10
    .word -1                    ; the end of the table
msg0: .ascii "hello\n"
msg1: .ascii "from user\n"
