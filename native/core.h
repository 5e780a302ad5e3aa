/* The native core of hv: the whole ISA in C, with the contract of vcpu/refcore.py.
 *
 * Memory belongs to the caller (a Python bytearray handed over with ffi.from_buffer), so
 * several cores can share one buffer and Python reads and writes it without copies.
 *
 * The part between BEGIN CDEF and END CDEF is also the cffi declaration (build_core.py
 * reads it), so it holds plain declarations with literal sizes only; core.c checks those
 * sizes against the generated opcodes.h.
 */
#ifndef HV_CORE_H
#define HV_CORE_H

#include <stdint.h>

/* BEGIN CDEF */
struct hv_tlb_entry {
    uint32_t vpn;        /* virtual page number; 0xffffffff when the entry is empty */
    uint32_t frame;      /* physical address of the frame (pte & 0xfffff000) */
    uint32_t rights;     /* pde & pte & (writable | user) */
    uint32_t valid;      /* 1 when the entry holds a translation (get_state/set_state) */
};

struct hv_cpu {
    uint32_t regs[16];
    uint32_t pc;
    uint32_t cr[7];           /* the stored control registers (cpuid, icount are computed) */
    uint64_t icount;          /* this CPU's clock: retired instructions and idle wfi slots */
    uint64_t idle;            /* of those, the idle slots (statistics) */
    uint64_t timer_next;      /* icount at which the timer is next due */
    uint32_t timer_period;    /* 0 = timer off */
    uint32_t pending;         /* pending interrupts: bit 0 timer, 1 device, 2 IPI */
    uint32_t ipi_from;        /* the sender of the pending IPI (its badaddr) */
    uint32_t cpuid;           /* this CPU's number (control register cpuid) */
    uint32_t waiting;         /* 1: stopped in wfi until an interrupt of its own is pending */
    uint32_t host_traps;      /* bit c set: a trap with cause c exits to the host */
    uint32_t mem_size;
    uint8_t *mem;
    struct hv_tlb_entry tlb[64];

    /* the last exit (valid after hv_run returns) */
    uint32_t exit_reason;
    uint32_t exit_port;
    uint32_t exit_value;
    uint32_t exit_reg;
    uint32_t exit_cause;
    uint32_t exit_epc;
    uint32_t exit_badaddr;
    uint32_t exit_insn_len;   /* 0 when the instruction was not (completely) fetched */
    uint8_t exit_insn[8];

    uint32_t fault_addr;      /* scratch: badaddr of the last failed translation */

    /* Guest mode (hv boot --virt hw), the core's VMCS; all 0 on the bare machine. In guest
     * mode regs, pc, cr, timer and pending are the guest's own (the guest-state area) and
     * the core acts on them as the bare CPU does; addresses the guest calls physical are
     * translated once more (see "Guest mode" in core.c). */
    uint32_t gm;              /* 0 bare; 1 guest mode, shadow paging; 2 guest mode, nested */
    uint32_t gm_ctl;          /* exit controls: GM_EXIT_* bits (core.c) */
    uint32_t gm_root;         /* shadow: the shadow directory to walk; nested: the
                                 directory of the host's table of the guest's frames */
    uint32_t gm_io_exit[8];   /* I/O bitmap: bit p set = in/out on port p exits */
    uint32_t gm_con_len;      /* console bytes posted by the guest, not yet taken by the host */
    uint8_t gm_con[256];      /* the posted console bytes (port 0x10 left to the core) */
    uint64_t tlb_misses;      /* page-table walks (TLB misses), bare and guest */
    uint64_t walk_refs;       /* memory references those walks made */

    /* A debugger's breakpoints and watchpoints (refcore.py, "Debug support"): host
     * settings, not architectural state (get_state/set_state leave them alone). With
     * nbreak and nwatch 0 the hot loop is the same as without them. */
    uint32_t nbreak;          /* breakpoint addresses in break_pc (at most HV_MAX_BREAKPOINTS) */
    uint32_t break_pc[64];
    uint32_t nwatch;          /* watched ranges (at most HV_MAX_WATCHPOINTS) */
    uint32_t watch_lo[16];    /* range i is [watch_lo[i], watch_last[i]] (inclusive: a range */
    uint32_t watch_last[16];  /* may end at 2**32) for the accesses in watch_mask[i] */
    uint32_t watch_mask[16];  /* HV_WATCH_READ | HV_WATCH_WRITE */
};

/* Several CPUs on one memory (brief §11): they take turns 0, 1, ..., N-1 of `quantum`
 * slots each; a slot retires one instruction or passes idle in wfi. */
struct hv_machine {
    uint32_t ncpus;           /* 1..16 */
    uint32_t quantum;         /* slots per turn */
    uint32_t cur;             /* the CPU whose turn it is */
    uint32_t exit_cpu;        /* the CPU of the last exit */
    uint64_t turn_end;        /* cur's icount at which its turn ends (max with one CPU) */
    struct hv_cpu cpus[16];
};

/* Guest mode exit controls (struct hv_cpu.gm_ctl); vcpu/guestmode.py has the same values.
 * Beside them: halt always exits, in/out exit by the I/O bitmap, traps and interrupts
 * (the interrupt window) by host_traps. */
#define GM_EXIT_ALL 1         /* every privileged instruction exits, not retired (tracing) */
#define GM_EXIT_PTBR 2        /* mtcr ptbr, and mtcr status that changes PG (shadow paging) */
#define GM_EXIT_TLBFLUSH 4    /* tlbflush (shadow paging) */
#define GM_EXIT_WFI 8         /* wfi */

/* Zero the CPU state and attach memory (mem may be NULL when mem_size is 0). */
void hv_init(struct hv_cpu *c, uint8_t *mem, uint32_t mem_size);
/* Run one CPU until an exit; at most `budget` instructions retire. Returns the exit
 * reason. A wfi with nothing pending retires and returns EXIT_WFI: waiting is the
 * machine's business (hv_machine_run). */
int hv_run(struct hv_cpu *c, uint64_t budget);
/* Zero a machine of ncpus CPUs (cpuid 0..ncpus-1) on one memory. */
void hv_machine_init(struct hv_machine *m, uint8_t *mem, uint32_t mem_size, uint32_t ncpus,
                     uint32_t quantum);
/* Run the machine's turns until an exit of some CPU (m->exit_cpu) or `budget` slots have
 * passed, summed over all CPUs. EXIT_WFI: every CPU waits and nothing could wake one. */
int hv_machine_run(struct hv_machine *m, uint64_t budget);
/* hv_machine_run, packed like hv_run_packed, with the exit's CPU in bits 24..31. */
uint64_t hv_machine_run_packed(struct hv_machine *m, uint64_t budget);
/* hv_run, with the exit packed into the result for a cheap return to Python:
 * bits 0..7 reason, 8..15 port, 16..23 reg (IO_IN), 32..63 value (IO_OUT); for EXIT_TRAP
 * 8..15 cause, 16..23 instruction length, 32..63 badaddr; EXIT_WATCH likewise (length 0).
 * The pc of TRAP, BREAK and WATCH is the CPU's pc. */
uint64_t hv_run_packed(struct hv_cpu *c, uint64_t budget);
/* Drop every TLB entry. */
void hv_tlb_flush(struct hv_cpu *c);
/* Translate one byte's virtual address exactly as an access of `kind` would (5 read,
 * 6 write, 7 fetch), filling the TLB on a walk. Returns 0 and sets *paddr, or returns the
 * page-fault cause. */
int hv_translate(struct hv_cpu *c, uint32_t vaddr, int kind, uint32_t *paddr);
/* END CDEF */

#endif /* HV_CORE_H */
