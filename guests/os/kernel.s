; guests/os/kernel.s -- a small teaching operating system: processes and threads.
;
; Run it through `hv os` (it builds the disk the kernel loads its programs from):
;     hv os guests/os/demos/creation.s
;     hv os --hv guests/os/demos/switching.s          (the same kernel under the hypervisor)
;     hv os --cpus 4 guests/os/demos/multiprocessor.s
;
; What it has (docs/os.md is the long version):
;   - processes: a process table, one address space (page directory) each, fork that copies
;     the address space, exec that loads a program from the disk by DMA, exit and wait with
;     exit statuses, zombies and orphans; a user fault ends the process with 128 + cause;
;   - kernel-level threads: several per process, sharing its address space, each with its
;     own user stack; a preemptive round-robin scheduler driven by the timer; sleep, join,
;     wait and futexes block only the calling thread;
;   - several CPUs: every CPU runs the same scheduler loop on its own kernel stack; one
;     spin lock (on `xchg`) guards all kernel data, the run queue included; an idle CPU
;     waits in `wfi` and is woken by an inter-processor interrupt when work arrives.
;
; The user side (the system-call ABI, user.s) is fixed by the brief, §9. The kernel prints
; nothing unless the disk's header asks for it (`hv os --os-verbose`).
;
; Files:
;   kernel/boot.s     power-on: memory, the kernel's page table, the disk's directory,
;                     pid 1, starting every CPU
;   kernel/trap.s     the one trap vector: save the thread, dispatch, return to a thread
;   kernel/sched.s    run queue, timer ticks, sleeping, the idle loop, the big lock
;   kernel/mem.s      frames, page tables, address spaces, checking user pointers
;   kernel/proc.s     processes: fork, exec, exit, wait, and loading programs from disk
;   kernel/thread.s   threads: create, exit, join, and stopping a process's threads
;   kernel/sys.s      the system-call table and the small calls (I/O, futex, sbrk, ...)
;   kernel/data.s     tables, buffers and stacks
;
; Design in one paragraph. The kernel is *event driven*: it never sleeps in the middle of
; a trap. A trap saves the running thread's registers into its thread control block (TCB)
; and then runs on the CPU's own kernel stack; a call that must wait marks the thread
; blocked and picks another thread, and whoever wakes it later writes its result straight
; into the saved r1 (sleep, futex) or winds its pc back so that the call runs again
; (wait, join: "restartable" system calls). So one small kernel stack per CPU is all the
; kernel needs, and a thread is only its TCB and its user stack.
;
; Kernel register conventions: r0 = 0 (set at every trap), r10 = the current thread's TCB,
; r11 = this CPU's block, r12 = the current process (in system calls). Subroutines may
; clobber r1-r7 and preserve r8-r15 unless they say otherwise.
;
; Memory map. Physical memory (up to 4 MiB) is identity-mapped into every address space
; without the U bit, so the kernel reaches any frame at its physical address and no user
; program reaches the kernel:
;
;   virtual                    what
;   0x00000000-0x003fffff      the kernel's view of physical memory (kernel only)
;   0x00400000-...             the program image (user.s puts its origin here), then the
;                              heap, grown by sbrk, up to 0x00800000
;   0x00800000-0x00ffffff      thread stacks: 128 slots of 64 KiB; the lowest page of each
;                              slot is a guard page (never mapped), the rest is mapped on
;                              first touch
;   0x01000000-0xffffffff      nothing (in particular the top page is never mapped)

.equ PAGE,          4096
.equ MAX_MEM,       0x00400000      ; one page table maps the kernel's view of memory
.equ NCPU_MAX,      16
.equ NPROC,         32              ; process table (the brief asks for at least 16)
.equ NTHREAD,       96              ; thread table (the brief asks for at least 64)
.equ QUANTUM,       2000            ; timer period: a tick every 2000 instructions per CPU
.equ KSTACK,        1024            ; kernel stack per CPU
.equ MAX_PROGRAMS,  64              ; directory entries the kernel keeps (4 sectors)

; The user address space.
.equ USER_BASE,     0x00400000
.equ HEAP_LIMIT,    0x00800000
.equ STACK_BASE,    0x00800000
.equ STACK_SLOT,    0x00010000
.equ NSLOTS,        128
.equ USER_TOP,      0x01000000
.equ THREAD_RETURN, USER_BASE + 5   ; user.s: `sys 9` (thread_exit), where new threads return

; Page-table entries.
.equ PTE_P,         1
.equ PTE_W,         2
.equ PTE_U,         4
.equ PTE_UPW,      PTE_P | PTE_W | PTE_U
.equ PTE_COW,       0x200           ; software bit (the MMU ignores bits 3-11): copy on write

; status bits: ST_KM, ST_IE, ST_PG, ST_PKM, ST_PIE come from guests/lib/hw.s (via io.s)
.equ USER_STATUS,   ST_KM | ST_PG | ST_PIE  ; what iret turns into user mode, interrupts on

; trap causes
.equ C_SYSCALL,     1
.equ C_BREAKPOINT,  2
.equ C_PF_READ,     5
.equ C_PF_WRITE,    6
.equ C_DIVIDE,      8
.equ C_TIMER,       16
.equ C_DEVICE,      17
.equ C_IPI,         18

; errors (the ABI's)
.equ E_INVAL,       -1
.equ E_NOPROG,      -2
.equ E_NOCHILD,     -3
.equ E_NOMEM,       -4
.equ E_FAULT,       -5

; Process control block.
.equ P_STATE,       0               ; PS_ below
.equ P_PID,         4
.equ P_PARENT,      8               ; the parent's PCB, 0 for none (pid 1, orphans)
.equ P_DIR,         12              ; physical address of the page directory
.equ P_BRK,         16              ; the end of the heap (sbrk)
.equ P_HEAPSTART,   20              ; the heap's start: the page after the image
.equ P_HEAPMAP,     24              ; the end of the mapped heap pages
.equ P_NTHREADS,    28              ; TCBs it owns (live and zombie threads)
.equ P_NLIVE,       32              ; threads that have not exited
.equ P_STATUS,      36              ; exit status
.equ P_SLOTMAX,     40              ; 1 + the highest stack slot ever used
.equ P_SLOTS,       44              ; 4 words: a bit per stack slot in use
.equ P_SIZE,        64
.equ PS_FREE,       0
.equ PS_ALIVE,      1
.equ PS_ZOMBIE,     2

; Thread control block.
.equ T_REGS,        0               ; r0..r15 while the thread is not running
.equ T_PC,          64
.equ T_STATE,       68              ; TS_ below
.equ T_TID,         72
.equ T_PROC,        76              ; its process's PCB (0 for a CPU's idle block)
.equ T_SLOT,        80              ; its stack slot
.equ T_WKIND,       84              ; what it is blocked on: W_ below
.equ T_WCHAN,       88              ; futex address, tid joined
.equ T_WAKE,        92              ; sleep: the tick to wake at
.equ T_VALUE,       96              ; exit value (a zombie's)
.equ T_NEXT,        100             ; run-queue link
.equ T_KILLED,      104             ; its process is ending: stop at the next kernel entry
.equ T_CPU,         108             ; the CPU it runs on (while running)
.equ T_CPUBLK,      112             ; that CPU's block (saves the trap path a `cpuid`)
.equ T_SIZE,        128
.equ TS_FREE,       0
.equ TS_READY,      1
.equ TS_RUNNING,    2
.equ TS_BLOCKED,    3
.equ TS_ZOMBIE,     4
.equ W_SLEEP,       1
.equ W_FUTEX,       2
.equ W_JOIN,        3
.equ W_WAIT,        4

; Per-CPU block.
.equ C_CURRENT,     0               ; the TCB running here (the idle block when idle)
.equ C_STACK,       4               ; top of this CPU's kernel stack
.equ C_PTBR,        8               ; the page directory loaded in ptbr
.equ C_IDLE,        12              ; this CPU's idle block
.equ C_ID,          16
.equ C_FLUSH,       20              ; 1: another CPU asked this one to flush its TLB
.equ C_SIZE,        64
.equ C_SHIFT,       6

; Disk layout (written by `hv os`; docs/os.md): sector 0 is the header, the directory
; follows, 32 bytes an entry.
.equ D_MAGIC,       0x534f5648      ; "HVOS"
.equ DH_MAGIC,      0
.equ DH_VERSION,    4
.equ DH_FLAGS,      8               ; bit 0: --os-verbose
.equ DH_COUNT,      12
.equ DH_DIRSECT,    16
.equ DH_DIRCOUNT,   20
.equ DE_NAME,       0               ; 20 bytes, NUL-padded
.equ DE_START,      20              ; first sector
.equ DE_SIZE,       24              ; bytes, loaded at USER_BASE
.equ DE_ENTRY,      28              ; where the program starts
.equ DE_SIZE_OF,    32
.equ NAME_MAX,      20

; The machine's CPU number and instruction counter (control registers 7 and 8, brief §11).
.macro CPUID rd
    mfcr \rd, cpuid
.endm
.macro ICOUNT rd
    mfcr \rd, icount
.endm


; VMSG label: print the string at label if the disk asked for a verbose kernel.
.macro VMSG label
    push r1
    li   r1, \label
    call vputs
    pop  r1
.endm

.entry boot

.include "kernel/boot.s"
.include "kernel/trap.s"
.include "kernel/sched.s"
.include "kernel/mem.s"
.include "kernel/proc.s"
.include "kernel/thread.s"
.include "kernel/sys.s"
.include "kernel/repo.s"           ; exec's second chance: the code repository
.include "kernel/net.s"            ; send and recv on the network device
.include "../lib/io.s"
.include "kernel/data.s"
