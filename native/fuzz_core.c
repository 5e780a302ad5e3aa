/* libFuzzer harness for the native core: random bytecode and a random CPU state fed to
 * hv_run directly (no Python), under ASan + UBSan.
 *
 * Build and run with native/fuzz.sh (needs clang), or by hand:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *         -Inative native/fuzz_core.c native/core.c -o fuzz_core && ./fuzz_core -max_total_time=60
 *
 * Besides crashes and undefined behaviour it checks two properties of the core itself:
 *  - invariants after every exit: status has only its 5 bits, pending only 2, icount
 *    never goes back, exit fields are consistent with the exit reason;
 *  - split-run equivalence: one machine run with large budgets and a copy run one
 *    instruction per hv_run call (the boundary slow path every time) end in the same
 *    state and memory. This holds the hot loop (fetch windows, stop_at, in-loop jumps) to
 *    the single-step path, which the Python lockstep tests hold to the reference core.
 *
 * Input layout: [mem size selector] [state header, zero-padded] [memory image, repeated to
 * fill memory].
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcodes.h"
#include "core.h"

static const uint32_t MEM_SIZES[] = {4096, 8192, 12288, 3 * 4096 + 17, 0x3003, 6, 4097, 16384};

struct header {
    uint8_t mem_sel;
    uint32_t regs[16];
    uint32_t pc;
    uint32_t cr[7];
    uint8_t timer_period;
    uint8_t timer_next;
    uint8_t pending;
    uint8_t host_trap_cause;   /* 0 = none */
    uint8_t flags;             /* bit 0: pc raw (may lie outside memory), bit 1: prefill TLB */
    uint16_t budget;
    uint8_t chunk;             /* budget of each call in the chunked run */
    uint8_t tlb_seed[8];
};

#define MAX_EXITS 64

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_core: %s\n", what);
    abort();
}

static void check_invariants(const struct hv_cpu *c, int r, uint64_t icount_before)
{
    if (c->cr[CR_STATUS] & ~(uint32_t)ST_MASK)
        fail("status has bits outside its mask");
    if (c->pending & ~(uint32_t)IRQ_MASK)
        fail("pending has bits other than timer/device/IPI");
    if (c->icount < icount_before)
        fail("icount went back");
    if (r < EXIT_BUDGET || r > EXIT_SHUTDOWN || (uint32_t)r != c->exit_reason)
        fail("bad exit reason");
    if (r != EXIT_TRAP && c->exit_insn_len)
        fail("instruction bytes in a non-trap exit");
    if (c->exit_insn_len > 6)
        fail("instruction longer than 6 bytes");
    if ((r == EXIT_TRAP || r == EXIT_SHUTDOWN) && c->pc != c->exit_epc)
        fail("trap exit: pc != epc");
    if (r == EXIT_IO_IN && c->exit_reg > 15)
        fail("IO_IN register out of range");
}

/* Run until a final exit or until `total` more instructions have retired, in calls of
 * at most `chunk` instructions; exits are serviced the same way for every run. */
static int drive(struct hv_cpu *c, uint64_t total, uint64_t chunk, int *exits)
{
    const uint64_t end = c->icount + total;
    int r = EXIT_BUDGET;
    *exits = 0;
    while (c->icount < end && *exits < MAX_EXITS) {
        uint64_t b = end - c->icount < chunk ? end - c->icount : chunk;
        uint64_t before = c->icount;
        r = hv_run(c, b);
        check_invariants(c, r, before);
        if (r == EXIT_BUDGET) {
            if (c->icount < before + b)
                fail("budget exit before the budget was spent");
            continue;
        }
        ++*exits;
        if (r == EXIT_IO_IN)
            c->regs[c->exit_reg] = 0xffffffffu;
        else if (r == EXIT_IO_OUT) {
            if (c->exit_port == 0x20) {               /* the timer device */
                c->timer_period = c->exit_value & 0xff;
                c->timer_next = c->icount + c->timer_period;
            }
        } else
            break;                                   /* HALT, WFI, TRAP, SHUTDOWN */
    }
    return r;
}

static void compare(const struct hv_cpu *a, const struct hv_cpu *b, uint32_t msize)
{
    if (memcmp(a->regs, b->regs, sizeof a->regs)) fail("split run: regs differ");
    if (a->pc != b->pc) fail("split run: pc differs");
    if (memcmp(a->cr, b->cr, sizeof a->cr)) fail("split run: control registers differ");
    if (a->icount != b->icount) fail("split run: icount differs");
    if (a->timer_next != b->timer_next || a->timer_period != b->timer_period)
        fail("split run: timer differs");
    if (a->pending != b->pending) fail("split run: pending differs");
    if (memcmp(a->tlb, b->tlb, sizeof a->tlb)) fail("split run: TLB differs");
    if (msize && memcmp(a->mem, b->mem, msize)) fail("split run: memory differs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct header h;
    memset(&h, 0, sizeof h);
    size_t hn = size < sizeof h ? size : sizeof h;
    memcpy(&h, data, hn);
    const uint8_t *img = data + hn;
    size_t img_len = size - hn;

    uint32_t msize = MEM_SIZES[h.mem_sel % (sizeof MEM_SIZES / sizeof MEM_SIZES[0])];
    /* exact-size allocations, so that ASan sees any access past the end of memory */
    uint8_t *m1 = malloc(msize), *m2 = malloc(msize);
    if (!m1 || !m2)
        abort();
    for (uint32_t i = 0; i < msize; i++)
        m1[i] = img_len ? img[i % img_len] : 0;
    memcpy(m2, m1, msize);

    struct hv_cpu *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    if (!a || !b)
        abort();
    hv_init(a, m1, msize);
    memcpy(a->regs, h.regs, sizeof a->regs);
    a->pc = (h.flags & 1) ? h.pc : (msize ? h.pc % msize : h.pc);
    memcpy(a->cr, h.cr, sizeof a->cr);
    a->cr[CR_STATUS] &= ST_MASK;
    if (!(h.flags & 4))
        a->cr[CR_PTBR] = msize ? (a->cr[CR_PTBR] % msize) & ~0xfffu : 0;
    if (!(h.flags & 8))
        a->cr[CR_EVEC] = msize ? a->cr[CR_EVEC] % msize : 0;
    a->timer_period = h.timer_period % 64;
    a->timer_next = h.timer_next % 64;
    a->pending = h.pending & IRQ_MASK;
    if (h.host_trap_cause)
        a->host_traps = 1u << (h.host_trap_cause % 18);
    if (h.flags & 2) {                               /* a prefilled (maybe inconsistent) TLB */
        for (int i = 0; i < 8; i++) {
            uint32_t vpn = h.tlb_seed[i] % 8;
            struct hv_tlb_entry *e = &a->tlb[vpn % HV_TLB_ENTRIES];
            e->vpn = vpn;
            e->frame = (uint32_t)(h.tlb_seed[(i + 1) % 8] % 8) << 12;
            e->rights = h.tlb_seed[(i + 2) % 8] & 6;
            e->valid = 1;
        }
    }
    memcpy(b, a, sizeof *a);
    b->mem = m2;

    uint64_t total = h.budget % 4096 + 1;
    uint64_t chunk = h.chunk ? h.chunk : total;
    int ea, eb;
    int ra = drive(a, total, chunk == 1 ? 2 : chunk, &ea);
    int rb = drive(b, total, 1, &eb);
    if (ra != rb || ea != eb)
        fail("split run: different exits");
    compare(a, b, msize);

    free(a);
    free(b);
    free(m1);
    free(m2);
    return 0;
}
