; kernel.s -- a small but real operating system for the hv machine.
;
; Run it:   hv run guests/kernel.s
;           hv boot guests/kernel.s                 (the same image, under the hypervisor)
;
; The kernel boots, gives each of five user tasks its own address space, runs them in user
; mode with round-robin preemption from the timer, serves their system calls, and kills
; the ones that misbehave. When every task has finished it prints a summary and powers the
; machine off with exit status 0. It fits the machine's default 64 KiB; see the map below.
;
; What it shows, and where to look:
;   kernel/boot.s      building page tables: a kernel/user split, one page table per
;                      task, the same user virtual addresses backed by different frames,
;                      one copy of the program shared read-only; turning paging on;
;                      starting the timer
;   kernel/trap.s      the trap path: saving all 16 registers of whatever was running, one
;                      vector for every cause, a table of handlers, returning with `iret`;
;                      faults from user mode (the task is killed, the kernel carries on)
;                      and demand paging (a fault the kernel repairs, then re-executes)
;   kernel/syscall.s   system calls: `sys n`, a numbered table, arguments checked against
;                      the caller's page table before the kernel touches them
;   kernel/sched.s     the scheduler: round robin, sleeping, the idle loop with `wfi`,
;                      exit, and the final summary
;   kernel/user.s      the user program every task runs, with a small user-space library
;
; Every trap path runs at least once: system calls, timer interrupts, a privileged
; instruction in user mode (task 3), page faults in user mode (task 4 reads kernel memory
; and is killed; task 1 touches its heap page and the kernel maps it on demand), a
; breakpoint (task 1), a divide by zero (task 5), and, in the kernel itself, mfcr, mtcr,
; iret, tlbflush and wfi (the idle loop, once only the sleeping task is left).
;
; The output is the same on every run, bare or under the hypervisor: the timer counts
; retired instructions, not seconds, so every preemption falls on the same instruction.
;
; System calls (`sys n`; arguments in r1, r2; the result in r1; every other register is
; preserved):
;   1  write(buf, len)   print len bytes from buf; returns len, or -1 for a bad buffer
;   2  yield()          give the CPU to the next ready task
;   3  getpid()         returns the caller's pid (1..5)
;   4  sleep(ticks)     sleep for that many timer ticks
;   5  exit(code)       end the task with an exit code (does not return)
;   6  uptime()         returns the number of timer ticks since boot
;   any other n         returns -1
;
; Memory map (physical = what the machine has; virtual = what every task sees):
;
;   physical            what                        virtual, in every address space
;   0x0000-0x1fff       the kernel (code, data,     the same addresses, kernel-only
;                       kernel stack at the top)
;   0x2000-0xbfff       frame pool: the page        the same addresses, kernel-only
;                       directory, the page tables
;   0xc000-0xcfff       the user program            the user window, with the U bit:
;   0xd000-0xefff       frame pool: frames the        0xc000 code   (read-only, the one
;                       kernel only ever uses as             copy every task runs)
;                       user pages                    0xd000 data, and the stack at its
;                                                            top (read/write, the task's own)
;                                                     0xe000 heap   (mapped on first use)
;   0xf000-0xffff       frame pool                  the same address, kernel-only
;
; The kernel maps all of physical memory at its own address (identity mapping) so that it
; can keep using the addresses the assembler gave its labels after paging is turned on,
; and it leaves out the U bit, so no user task can reach any of it. Only the user window,
; virtual 0xc000-0xefff, differs between address spaces: each task has a page table of its
; own, and the one page directory points at the running task's table.
;
; Why is the user program at 0xc000 in the image? The assembler gives every label its
; address in this one image, so the user program has to be assembled at the virtual address
; it will run at. Every task maps that one physical copy read-only, as processes started
; from one executable share its code; what differs between them is their data page.
;
; Register conventions inside the kernel: r0 holds 0 (the trap entry sets it; nothing in the
; kernel writes r0 afterwards), r10 points at the current task's control block, and sp is
; the kernel stack, reset at every trap (the kernel never waits in the middle of a trap:
; every trap ends by returning to some task, or in the idle loop).

.equ MEM_NEEDED,    0x10000         ; 64 KiB
.equ PAGE,          4096
.equ NTASKS,        5
.equ TIMER_PERIOD,  1000            ; a timer interrupt every 1000 retired instructions

; The kernel image must end below KERNEL_END (kernel/data.s checks it while assembling).
.equ KERNEL_END,    0x02000

; The user window (the same virtual addresses in every task).
.equ USER_CODE,     0x0c000
.equ USER_DATA,     0x0d000         ; the task's variables, and its stack at the top
.equ USER_HEAP,     0x0e000
.equ USER_END,      0x0f000

; The machine's numbers by name: ports (PORT_...), trap causes (CAUSE_...), status bits
; (ST_KM, ST_IE, ST_PG, ...) and page-table entry bits (PTE_PRESENT, PTE_WRITABLE, PTE_USER).
; A page-table entry holds the frame's address in bits 31..12, then the rights.
.include "lib/hw.s"

; system call numbers
.equ SYS_WRITE,     1
.equ SYS_YIELD,     2
.equ SYS_GETPID,    3
.equ SYS_SLEEP,     4
.equ SYS_EXIT,      5
.equ SYS_UPTIME,    6
.equ NSYSCALLS,     7               ; table size: numbers 0..6 (0 is not a system call)

; The task control block (TCB): everything the kernel knows about a task.
.equ T_REGS,        0               ; r0..r15, 4 bytes each: the task's registers while
                                    ;   it is not running
.equ T_PC,          64              ; where it resumes
.equ T_STATE,       68              ; one of the TS_ values
.equ T_WAKE,        72              ; when sleeping: the tick to wake up at
.equ T_PID,         76
.equ T_PT,          80              ; physical address of its page table
.equ T_EXIT,        84              ; exit code, or the cause that killed it
.equ T_KILLED,      88              ; 0: exited by itself; 1: killed by the kernel
.equ T_BADADDR,     92              ; for a task killed by a page fault: the address
.equ T_SIZE,        96

.equ TS_UNUSED,     0
.equ TS_READY,      1               ; runnable (the running task is READY too)
.equ TS_SLEEPING,   2
.equ TS_DONE,       3               ; exited or killed

.entry boot

.include "kernel/boot.s"
.include "kernel/trap.s"
.include "kernel/syscall.s"
.include "kernel/sched.s"
.include "lib/io.s"
.include "kernel/data.s"            ; ends the kernel: data, then the kernel stack
.include "kernel/user.s"            ; at USER_CODE: the user program template
