; kernel/boot.s -- from power-on to the first user thread, on every CPU.
;
; Every CPU starts here at once, in kernel mode with paging and interrupts off and
; sp = the top of memory (brief §11). CPU 0 builds everything; the others wait for the
; `booted` flag, then set up their own registers and join the scheduler. Until paging is
; on, addresses are physical, which is also what the kernel's identity mapping gives it
; afterwards: the kernel's labels mean the same thing before and after.

boot:
    li   r0, 0
    CPUID r1
    bne  r1, r0, boot_secondary

    ; --- CPU 0: how much memory? sp = its top is the only way to know. -----------------
    mov  r1, sp
    li   r2, MAX_MEM
    bgeu r2, r1, boot_mem_ok
    mov  r1, r2                 ; more than 4 MiB: the kernel uses the first 4 MiB
boot_mem_ok:
    st   r1, [r0 + mem_top]

    ; Every CPU's block: its kernel stack and its idle block (used while it has nothing
    ; to run; a trap from the idle loop saves its registers there).
    li   r2, 0
boot_cpus:
    shl  r3, r2, C_SHIFT
    add  r3, r3, cpus           ; r3 = the CPU's block
    st   r2, [r3 + C_ID]
    add  r4, r2, 1
    mul  r4, r4, KSTACK
    add  r4, r4, cpu_stacks
    st   r4, [r3 + C_STACK]
    mul  r4, r2, T_SIZE
    add  r4, r4, idle_tcbs
    st   r4, [r3 + C_IDLE]
    st   r4, [r3 + C_CURRENT]
    st   r3, [r4 + T_CPUBLK]
    add  r2, r2, 1
    li   r4, NCPU_MAX
    bltu r2, r4, boot_cpus
    li   r11, cpus
    ld   sp, [r11 + C_STACK]
    li   r1, trap_entry
    mtcr evec, r1

    ; --- The disk: header and directory, by DMA straight into kernel memory. ------------
    call read_directory         ; kernel/proc.s; powers off if the disk is unusable

    ; --- Frames: everything above the kernel image, handed out by alloc_frame. ---------
    li   r1, kernel_end + PAGE - 1
    and  r1, r1, ~(PAGE - 1)
    st   r1, [r0 + next_frame]

    ; The kernel's page table: physical memory at its own address, P and W, no U. Every
    ; address space shares it through its first directory entry.
    call alloc_zero
    mov  r5, r1
    li   r2, 0
    ld   r3, [r0 + mem_top]
boot_kpt:
    or   r4, r2, PTE_P | PTE_W
    shr  r6, r2, 10             ; entry (r2 / 4096) at r5 + 4 * that
    add  r6, r6, r5
    st   r4, [r6]
    add  r2, r2, PAGE
    bltu r2, r3, boot_kpt
    or   r1, r5, PTE_P | PTE_W
    st   r1, [r0 + kernel_pde]
    ; A directory with only the kernel in it: what an idle CPU runs on.
    call alloc_zero
    ld   r2, [r0 + kernel_pde]
    st   r2, [r1]
    st   r1, [r0 + kernel_dir]

    ; --- pid 1: the first program on the disk. -------------------------------------------
    li   r1, disk_dir
    call spawn_first            ; kernel/proc.s
    VMSG s_booted

    li   r1, 1
    st   r1, [r0 + booted]      ; the other CPUs may go
    jmp  cpu_start

; The other CPUs wait until CPU 0 has built the kernel's tables, then start.
boot_secondary:
    ld   r2, [r0 + booted]
    beq  r2, r0, boot_secondary
    shl  r11, r1, C_SHIFT
    add  r11, r11, cpus
    ld   sp, [r11 + C_STACK]
    li   r1, trap_entry
    mtcr evec, r1

; Every CPU: paging on (on the kernel-only directory), the timer, then the scheduler.
cpu_start:
    ld   r1, [r0 + kernel_dir]
    mtcr ptbr, r1
    st   r1, [r11 + C_PTBR]
    li   r1, ST_KM | ST_PG
    mtcr status, r1
    li   r1, QUANTUM
    out  0x20, r1
    call klock
    jmp  schedule
