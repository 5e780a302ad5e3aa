/* The native core of hv: an interpreter of the whole ISA with the contract of
 * vcpu/refcore.py (the executable specification). Where the two could differ -- TLB
 * contents and fill policy, the order of checks inside an instruction, badaddr for an
 * access that straddles pages, wfi fast-forward, the order of work at an instruction
 * boundary, the double-fault SHUTDOWN rule, the host-trap mask, icount -- refcore.py is
 * the definition, and the lockstep tests (tests/test_lockstep.py) hold this file to it.
 *
 * Shape of the hot loop
 * ---------------------
 * The guest pc lives in the loop as a host pointer `ip` into a *fetch window*: a run of
 * guest memory where an instruction of up to 6 bytes can be read directly (all of
 * memory when paging is off; the current code page when paging is on and the TLB holds
 * it with the rights of the current mode). `PC()` turns `ip` back into the guest pc.
 * An instruction outside every window (at a page end, at the end of memory, or one that
 * faults) is fetched by the slow path into a small buffer, exactly as refcore does it.
 * Anything that could make a window stale (a TLB fill or flush, a mode or status change,
 * a trap) drops the window, and the next fetch builds a new one.
 *
 * The work of an instruction boundary (budget spent? timer due? interrupt to take?) is
 * done in `boundary:`. Between boundaries with something to do, the loop compares icount
 * against one precomputed value, `stop_at` = min(end of budget, timer_next when the timer
 * is on). Instructions that can change what the boundary would decide (sti, iret, mtcr,
 * tlbflush, traps) go through `boundary:` themselves.
 *
 * Dispatch is computed goto over the table generated in opcodes.h (HV_INSTRUCTIONS),
 * with a switch when the compiler is not GNU-compatible (or HV_NO_COMPUTED_GOTO is set).
 * What the ISA table says of an instruction is not restated here: each handler names its
 * length as LEN(NAME) (HV_LEN_NAME in opcodes.h), and OPCASE does the privilege check for
 * the instructions the table marks privileged (HV_PRIV_NAME, a constant, so innocuous
 * instructions pay nothing for it).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "opcodes.h"
#include "core.h"

_Static_assert(NUM_STORED_CRS == 7, "struct hv_cpu.cr must have NUM_STORED_CRS entries (opcodes.h)");
_Static_assert(HV_TLB_ENTRIES == 64, "struct hv_cpu.tlb must have HV_TLB_ENTRIES entries");
_Static_assert(HV_PAGE_SIZE == 4096, "the page size is 4 KiB");
_Static_assert(HV_MAX_BREAKPOINTS == 64, "struct hv_cpu.break_pc must have HV_MAX_BREAKPOINTS entries");
_Static_assert(HV_MAX_WATCHPOINTS == 16, "struct hv_cpu.watch_* must have HV_MAX_WATCHPOINTS entries");

#if defined(__GNUC__) && !defined(HV_NO_COMPUTED_GOTO)
#define HV_CGOTO 1
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define HV_CGOTO 0
#define LIKELY(x) (x)
#define UNLIKELY(x) (x)
#endif

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

#define P_BIT ((uint32_t)PTE_PRESENT)
#define W_BIT ((uint32_t)PTE_WRITABLE)
#define U_BIT ((uint32_t)PTE_USER)
#define K_READ 5
#define K_WRITE 6
#define K_FETCH 7
#define TLB_EMPTY 0xffffffffu
#define PORT_TIMER 0x20
#define PORT_CONSOLE_OUT 0x10

/* --- little-endian memory access ------------------------------------------------------ */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LE32(v) __builtin_bswap32(v)
#define LE16(v) __builtin_bswap16(v)
#else
#define LE32(v) (v)
#define LE16(v) (v)
#endif

static inline uint32_t ld32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return LE32(v); }
static inline uint32_t ld16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return LE16(v); }
static inline void st32(uint8_t *p, uint32_t v) { v = LE32(v); memcpy(p, &v, 4); }
static inline void st16(uint8_t *p, uint32_t v) { uint16_t h = LE16((uint16_t)v); memcpy(p, &h, 2); }

/* --- state ---------------------------------------------------------------------------- */

void hv_tlb_flush(struct hv_cpu *c)
{
    for (int i = 0; i < HV_TLB_ENTRIES; i++) {
        c->tlb[i].vpn = TLB_EMPTY;
        c->tlb[i].frame = 0;
        c->tlb[i].rights = 0;
        c->tlb[i].valid = 0;
    }
}

void hv_init(struct hv_cpu *c, uint8_t *mem, uint32_t mem_size)
{
    memset(c, 0, sizeof *c);
    c->mem = mem;
    c->mem_size = mem ? mem_size : 0;
    hv_tlb_flush(c);
}

static void clear_exit(struct hv_cpu *c, uint32_t reason)
{
    c->exit_reason = reason;
    c->exit_port = c->exit_value = c->exit_reg = 0;
    c->exit_cause = c->exit_epc = c->exit_badaddr = 0;
    c->exit_insn_len = 0;
    memset(c->exit_insn, 0, sizeof c->exit_insn);
}

/* --- address translation (refcore: _walk, translate, _span) --------------------------- */

static int gm_walk(struct hv_cpu *c, uint32_t va, int kind);

static int walk(struct hv_cpu *c, uint32_t va, int kind)
{
    if (c->gm)
        return gm_walk(c, va, kind);
    c->tlb_misses++;
    const uint64_t size = c->mem_size;
    uint64_t pde_addr = HV_PDE_ADDR(c->cr[CR_PTBR], va);
    if (pde_addr + 4 > size)
        goto fault;
    uint32_t pde = ld32(c->mem + pde_addr);
    c->walk_refs++;
    if (!(pde & P_BIT))
        goto fault;
    uint64_t pte_addr = HV_PTE_ADDR(pde, va);
    if (pte_addr + 4 > size)
        goto fault;
    uint32_t pte = ld32(c->mem + pte_addr);
    c->walk_refs++;
    if (!(pte & P_BIT))
        goto fault;
    struct hv_tlb_entry *e = &c->tlb[(va >> 12) & (HV_TLB_ENTRIES - 1)];
    e->vpn = va >> 12;
    e->frame = pte & HV_PTE_FRAME_MASK;
    e->rights = pde & pte & (W_BIT | U_BIT);
    e->valid = 1;
    return 0;
fault:
    c->fault_addr = va;
    return kind;
}

/* --- guest mode: the second translation ------------------------------------------------
 *
 * In guest mode the addresses the guest calls physical (guest-physical) are not host
 * addresses, so every access is translated, paging on or off, and the TLB caches the
 * whole composition (guest-virtual -> host-physical) with the guest's rights:
 *
 *   shadow (gm 1): the hypervisor keeps the composition in shadow tables; the core walks
 *                  them from gm_root like any two-level table (2 references per miss).
 *                  A shadow miss is a page fault that the exit controls send to the host.
 *   nested (gm 2): gm_root is the host's two-level table of the guest's frames
 *                  (guest-physical -> host-physical). The core walks the guest's own
 *                  tables from the guest's ptbr, translating the address of each entry it
 *                  reads through the host's table, then the frame it finds: up to
 *                  2 + 1 + 2 + 1 + 2 = 8 references per miss, 2 with the guest's paging off.
 *
 * A guest-physical address the host's table does not map (outside the guest's memory)
 * faults exactly as an address outside memory does on the bare machine: a page fault of
 * the access's kind, badaddr = the virtual address.
 */
/* One walk of a host-side two-level table at gm_root: the host address of `addr`'s frame
 * and the entries' rights, or 0 where the table maps nothing. */
static int host_walk(struct hv_cpu *c, uint32_t addr, uint32_t *frame, uint32_t *rights)
{
    const uint64_t size = c->mem_size;
    uint64_t de_addr = HV_PDE_ADDR(c->gm_root, addr);
    if (de_addr + 4 > size)
        return 0;
    uint32_t de = ld32(c->mem + de_addr);
    c->walk_refs++;
    if (!(de & P_BIT))
        return 0;
    uint64_t te_addr = HV_PTE_ADDR(de, addr);
    if (te_addr + 4 > size)
        return 0;
    uint32_t te = ld32(c->mem + te_addr);
    c->walk_refs++;
    if (!(te & P_BIT) || (uint64_t)(te & ~0xfffu) + 0x1000 > size)
        return 0;
    *frame = te & ~0xfffu;
    *rights = de & te & (W_BIT | U_BIT);
    return 1;
}

static NOINLINE int gm_walk(struct hv_cpu *c, uint32_t va, int kind)
{
    uint32_t frame, rights, hr;
    c->tlb_misses++;
    if (c->gm == 1) {
        /* shadow: the composition is in the shadow tables, one ordinary walk */
        if (!host_walk(c, va, &frame, &rights))
            goto fault;
    } else {
        uint32_t gpa = va & ~0xfffu, grights = W_BIT | U_BIT;
        if (c->cr[CR_STATUS] & ST_PG) {
            uint32_t h, pde_gpa = (uint32_t)HV_PDE_ADDR(c->cr[CR_PTBR], va);
            if (!host_walk(c, pde_gpa, &h, &hr))
                goto fault;
            uint32_t pde = ld32(c->mem + h + (pde_gpa & 0xfffu));
            c->walk_refs++;
            if (!(pde & P_BIT))
                goto fault;
            uint32_t pte_gpa = (uint32_t)HV_PTE_ADDR(pde, va);
            if (!host_walk(c, pte_gpa, &h, &hr))
                goto fault;
            uint32_t pte = ld32(c->mem + h + (pte_gpa & 0xfffu));
            c->walk_refs++;
            if (!(pte & P_BIT))
                goto fault;
            gpa = pte & HV_PTE_FRAME_MASK;
            grights = pde & pte & (W_BIT | U_BIT);
        }
        if (!host_walk(c, gpa, &frame, &hr))
            goto fault;
        rights = grights & hr;
    }
    struct hv_tlb_entry *e = &c->tlb[(va >> 12) & (HV_TLB_ENTRIES - 1)];
    e->vpn = va >> 12;
    e->frame = frame;
    e->rights = rights;
    e->valid = 1;
    return 0;
fault:
    c->fault_addr = va;
    return kind;
}

int hv_translate(struct hv_cpu *c, uint32_t va, int kind, uint32_t *paddr)
{
    const uint32_t st = c->cr[CR_STATUS];
    uint32_t pa;
    if ((st & ST_PG) || c->gm) {
        struct hv_tlb_entry *e = &c->tlb[(va >> 12) & (HV_TLB_ENTRIES - 1)];
        if (!(e->valid && e->vpn == (va >> 12))) {
            int f = walk(c, va, kind);
            if (f)
                return f;
        }
        if ((!(st & ST_KM) && !(e->rights & U_BIT)) || (kind == K_WRITE && !(e->rights & W_BIT))) {
            c->fault_addr = va;
            return kind;
        }
        pa = e->frame | (va & 0xfffu);
    } else {
        pa = va;
    }
    if (pa >= c->mem_size) {
        c->fault_addr = va;
        return kind;
    }
    *paddr = pa;
    return 0;
}

/* Physical addresses of n bytes from va; every byte is checked before any is touched and
 * a fault names the first byte that fails. */
static int span(struct hv_cpu *c, uint32_t va, unsigned n, int kind, uint32_t *pa)
{
    uint32_t first;
    int f = hv_translate(c, va, kind, &first);
    if (f)
        return f;
    if ((va & 0xfffu) + n <= 0x1000u && (uint64_t)first + n <= c->mem_size) {
        for (unsigned i = 0; i < n; i++)
            pa[i] = first + i;
        return 0;
    }
    for (unsigned i = 0; i < n; i++) {
        f = hv_translate(c, va + i, kind, &pa[i]);
        if (f)
            return f;
    }
    return 0;
}

/* --- debug support (refcore.py, "Debug support") ---------------------------------------
 *
 * Neither costs the hot loop anything while unset. Watchpoints: with any set, every data
 * access takes the slow path (hv_run hands fast_ptr a memory size of 0), where the check
 * below runs after the translation and before memory changes. Breakpoints: checked where
 * the loop already does work -- at `boundary:` and when the fetch window is left -- and
 * every fetch window is built so that it holds no breakpoint address (window_clip), so that
 * sequential execution and jumps inside it cannot pass one unseen. */

#define WATCHED (-1)          /* a slow access touched a watched range (not a fault cause) */

/* an access of `kind` (HV_WATCH_* bits) to [va, va + n) touches a watched range */
static int watched(const struct hv_cpu *c, uint32_t va, unsigned n, uint32_t kind)
{
    for (uint32_t i = 0; i < c->nwatch; i++)
        if ((c->watch_mask[i] & kind) && va <= c->watch_last[i]
                && c->watch_lo[i] < (uint64_t)va + n)
            return 1;
    return 0;
}

static int is_break(const struct hv_cpu *c, uint32_t pc)
{
    for (uint32_t i = 0; i < c->nbreak; i++)
        if (c->break_pc[i] == pc)
            return 1;
    return 0;
}

/* Narrow the fetch window [*lo, *lo + *len), which holds pc, to the largest part around pc
 * free of breakpoints. Returns 0 when pc itself is a breakpoint: its instruction (already
 * checked) goes through the slow fetch, and the next one builds a window of its own. */
static NOINLINE int window_clip(const struct hv_cpu *c, uint32_t pc, uint32_t *lo, uint32_t *len)
{
    uint64_t a = *lo, b = (uint64_t)*lo + *len;
    for (uint32_t i = 0; i < c->nbreak; i++) {
        uint32_t bp = c->break_pc[i];
        if (bp == pc)
            return 0;
        if (bp < pc && (uint64_t)bp + 1 > a)
            a = (uint64_t)bp + 1;
        else if (bp > pc && bp < b)
            b = bp;
    }
    *lo = (uint32_t)a;
    *len = (uint32_t)(b - a);
    return 1;
}

static NOINLINE int load_slow(struct hv_cpu *c, uint32_t va, unsigned n, uint32_t *out)
{
    uint32_t pa[4];
    int f = span(c, va, n, K_READ, pa);
    if (f)
        return f;
    if (c->nwatch && watched(c, va, n, HV_WATCH_READ))
        return WATCHED;
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint32_t)c->mem[pa[i]] << (8 * i);
    *out = v;
    return 0;
}

/* xchg off the fast path: the word's bytes translated as a store, then swapped */
static NOINLINE int xchg_slow(struct hv_cpu *c, uint32_t va, uint32_t v, uint32_t *old)
{
    uint32_t pa[4];
    int f = span(c, va, 4, K_WRITE, pa);
    if (f)
        return f;
    if (c->nwatch && watched(c, va, 4, HV_WATCH_READ | HV_WATCH_WRITE))
        return WATCHED;
    uint32_t o = 0;
    for (unsigned i = 0; i < 4; i++) {
        o |= (uint32_t)c->mem[pa[i]] << (8 * i);
        c->mem[pa[i]] = (uint8_t)(v >> (8 * i));
    }
    *old = o;
    return 0;
}

static NOINLINE int store_slow(struct hv_cpu *c, uint32_t va, unsigned n, uint32_t v)
{
    uint32_t pa[4];
    int f = span(c, va, n, K_WRITE, pa);
    if (f)
        return f;
    if (c->nwatch && watched(c, va, n, HV_WATCH_WRITE))
        return WATCHED;
    for (unsigned i = 0; i < n; i++)
        c->mem[pa[i]] = (uint8_t)(v >> (8 * i));
    return 0;
}

/* The fast path of a data access: a host pointer when the access lies in one page that the
 * TLB holds with the needed rights (or, paging off, inside memory); NULL otherwise. */
static inline uint8_t *fast_ptr(const struct hv_cpu *c, uint8_t *mem, uint64_t msize, uint32_t pg,
                                uint32_t req, uint32_t va, unsigned n)
{
    if (!pg)
        return (uint64_t)va + n <= msize ? mem + va : NULL;
    const struct hv_tlb_entry *e = &c->tlb[(va >> 12) & (HV_TLB_ENTRIES - 1)];
    if (e->vpn == (va >> 12) && (e->rights & req) == req && (va & 0xfffu) <= 0x1000u - n) {
        uint32_t pa = e->frame | (va & 0xfffu);
        if ((uint64_t)pa + n <= msize)
            return mem + pa;
    }
    return NULL;
}

/* --- traps ---------------------------------------------------------------------------- */

static inline int is_fault(uint32_t cause)
{
    return cause >= CAUSE_PRIVILEGED && cause <= CAUSE_DIVIDE;
}

/* Deliver a trap: to the host if its cause is in host_traps, else through evec.
 * Returns an exit reason, or -1 when the run goes on (at c->pc). */
static NOINLINE int take_trap(struct hv_cpu *c, uint32_t cause, uint32_t epc, uint32_t badaddr,
                              const uint8_t *insn, uint32_t ilen)
{
    uint32_t *cr = c->cr;
    if (cause < 32 && ((c->host_traps >> cause) & 1)) {
        c->pc = epc;
        clear_exit(c, EXIT_TRAP);
        c->exit_cause = cause;
        c->exit_epc = epc;
        c->exit_badaddr = badaddr;
        c->exit_insn_len = ilen;
        if (ilen)
            memcpy(c->exit_insn, insn, ilen);
        return EXIT_TRAP;
    }
    uint32_t st = cr[CR_STATUS];
    /* the one shutdown (isa.is_double_fault): a kernel-mode fault of the instruction at evec */
    if (is_fault(cause) && (st & ST_KM) && epc == cr[CR_EVEC]) {
        c->pc = epc;
        clear_exit(c, EXIT_SHUTDOWN);
        c->exit_cause = cause;
        c->exit_epc = epc;
        c->exit_badaddr = badaddr;
        return EXIT_SHUTDOWN;
    }
    cr[CR_STATUS] = (st & ST_PG) | ST_KM | ((st & ST_KM) << 3) | ((st & ST_IE) << 3);
    cr[CR_EPC] = epc;
    cr[CR_CAUSE] = cause;
    cr[CR_BADADDR] = badaddr;
    c->pc = cr[CR_EVEC];
    return -1;
}

/* guest mode: an exit control stops the instruction at `pc` for the host */
static NOINLINE int gm_exit(struct hv_cpu *c, uint32_t pc, const uint8_t *insn, uint32_t ilen)
{
    c->pc = pc;
    clear_exit(c, EXIT_TRAP);
    c->exit_cause = CAUSE_PRIVILEGED;
    c->exit_epc = pc;
    c->exit_insn_len = ilen;
    memcpy(c->exit_insn, insn, ilen);
    return EXIT_TRAP;
}

static inline int gm_io_exits(const struct hv_cpu *c, uint32_t port)
{
    return !c->gm || ((c->gm_io_exit[(port >> 5) & 7] >> (port & 31)) & 1);
}

/* --- ALU helpers ---------------------------------------------------------------------- */

static inline uint32_t sdiv32(uint32_t a, uint32_t b)
{
    if (a == 0x80000000u && b == 0xffffffffu)
        return a;
    return (uint32_t)((int32_t)a / (int32_t)b);
}

static inline uint32_t srem32(uint32_t a, uint32_t b)
{
    if (a == 0x80000000u && b == 0xffffffffu)
        return 0;
    return (uint32_t)((int32_t)a % (int32_t)b);
}

static inline uint32_t sar32(uint32_t a, uint32_t s)
{
    s &= 31;
    /* arithmetic shift without relying on implementation-defined >> of negatives */
    return (a & 0x80000000u) ? ~(~a >> s) : a >> s;
}

/* --- the interpreter ------------------------------------------------------------------ */

#if HV_CGOTO
#define OPCASE(name) L_##name: if (HV_PRIV_##name) PRIV(HV_LEN_##name);
#define OPDEFAULT L_UNDEF:
#define DISPATCH() goto *disp[*ip]
#define SWITCH_BEGIN
#define SWITCH_END
#else
#define OPCASE(name) case OP_##name: if (HV_PRIV_##name) PRIV(HV_LEN_##name);
#define OPDEFAULT default:
#define DISPATCH() goto dispatch
#define SWITCH_BEGIN dispatch: switch (*ip) {
#define SWITCH_END }
#endif

/* operand fields of the instruction at ip */
#define FX (ip[1] >> 4)
#define FY (ip[1] & 15)
#define FZ (ip[2] >> 4)
#define IMM1 ld32(ip + 1)
#define IMM2 ld32(ip + 2)

/* the guest pc of ip */
#define PC() ((uint32_t)(flo + (uint32_t)(ip - fbase)))

/* drop the fetch window (PC() stays valid) */
#define INVALIDATE() do { wlen = 0; fend = fbase; } while (0)

/* retire a sequential instruction of `len` bytes and go on */
/* an instruction's length, from the ISA table (opcodes.h) */
#define LEN(name) HV_LEN_##name

#define NEXT(len) do {                                   \
        ip += (len);                                     \
        if (UNLIKELY(++ic >= stop_at)) goto seq_boundary;\
        if (UNLIKELY(ip >= fend)) goto seq_refetch;      \
        DISPATCH();                                      \
    } while (0)

/* retire an instruction that continues at guest address t */
#define JUMP(t) do {                                     \
        uint32_t t_ = (t);                               \
        uint32_t o_ = t_ - flo;                          \
        if (UNLIKELY(++ic >= stop_at)) { pc = t_; goto boundary; } \
        if (UNLIKELY(o_ >= wlen)) { pc = t_; goto fetch_new; }     \
        ip = fbase + o_;                                 \
        DISPATCH();                                      \
    } while (0)

/* retire and redo the whole boundary check (the instruction changed what it decides) */
#define RETIRE_TO_BOUNDARY(len) do { ip += (len); ++ic; pc = PC(); goto boundary; } while (0)

/* retire and exit to the host */
#define RETIRE_EXIT(len, reason) do {                    \
        ip += (len); ++ic; pc = PC();                    \
        c->pc = pc; c->icount = ic;                      \
        clear_exit(c, (reason));                         \
    } while (0)

/* fault: the instruction does not retire */
#define FAULT(cause, bad, len) do { f_cause = (cause); f_bad = (bad); f_len = (len); goto fault; } while (0)

/* a privileged instruction: a fault in user mode; in guest mode, an exit when the exit
 * controls ask for every one */
#define PRIV(len) do { if (UNLIKELY(ureq)) FAULT(CAUSE_PRIVILEGED, 0, (len));              \
        if (UNLIKELY(c->gm_ctl & GM_EXIT_ALL)) GM_EXIT(len); } while (0)

/* guest mode: the instruction exits to the host as a privileged-instruction trap, not
 * retired, for the host to emulate (as under trap-and-emulate) */
#define GM_EXIT(len) do { pc = PC(); c->icount = ic; return gm_exit(c, pc, ip, (len)); } while (0)

/* a data access touched a watched range: the instruction stops, not retired */
#define WATCH_EXIT(kind, va) do { pc = PC(); c->pc = pc; c->icount = ic;        \
        clear_exit(c, EXIT_WATCH); c->exit_cause = (kind); c->exit_epc = pc;    \
        c->exit_badaddr = (va); return EXIT_WATCH; } while (0)

/* data accesses: the fast path sees dsize, the memory size, or 0 with watchpoints set
 * (which sends every access to the slow path and its watch check) */
#define LOAD(va, n, dst, len) do {                                              \
        uint32_t va_ = (va);                                                    \
        uint8_t *p_ = fast_ptr(c, M, dsize, pg, ureq, va_, (n));                \
        if (LIKELY(p_ != NULL)) {                                               \
            dst = (n) == 4 ? ld32(p_) : (n) == 2 ? ld16(p_) : (uint32_t)p_[0];  \
        } else {                                                                \
            int f_ = load_slow(c, va_, (n), &dst);                              \
            INVALIDATE();                                                       \
            if (f_ == WATCHED) WATCH_EXIT(HV_WATCH_READ, va_);                  \
            if (f_) FAULT((uint32_t)f_, c->fault_addr, (len));                  \
        }                                                                       \
    } while (0)

#define STORE(va, n, val, len) do {                                             \
        uint32_t va_ = (va), v_ = (val);                                        \
        uint8_t *p_ = fast_ptr(c, M, dsize, pg, ureq | W_BIT, va_, (n));        \
        if (LIKELY(p_ != NULL)) {                                               \
            if ((n) == 4) st32(p_, v_);                                         \
            else if ((n) == 2) st16(p_, v_);                                    \
            else p_[0] = (uint8_t)v_;                                           \
        } else {                                                                \
            int f_ = store_slow(c, va_, (n), v_);                               \
            INVALIDATE();                                                       \
            if (f_ == WATCHED) WATCH_EXIT(HV_WATCH_WRITE, va_);                 \
            if (f_) FAULT((uint32_t)f_, c->fault_addr, (len));                  \
        }                                                                       \
    } while (0)

#define ALU_R(name, expr) OPCASE(name##_R) { uint32_t a = R[FY], b = R[FZ]; R[FX] = (expr); NEXT(HV_LEN_##name##_R); }
#define ALU_I(name, expr) OPCASE(name##_I) { uint32_t a = R[FY], b = IMM2; R[FX] = (expr); NEXT(HV_LEN_##name##_I); }
#define ALU(name, expr) ALU_R(name, expr) ALU_I(name, expr)

#define DIV_R(name, expr) OPCASE(name##_R) { uint32_t a = R[FY], b = R[FZ];       \
        if (UNLIKELY(b == 0)) { FAULT(CAUSE_DIVIDE, 0, HV_LEN_##name##_R); }    \
        R[FX] = (expr);                                                         \
        NEXT(HV_LEN_##name##_R); }
#define DIV_I(name, expr) OPCASE(name##_I) { uint32_t a = R[FY], b = IMM2;         \
        if (UNLIKELY(b == 0)) { FAULT(CAUSE_DIVIDE, 0, HV_LEN_##name##_I); }    \
        R[FX] = (expr);                                                         \
        NEXT(HV_LEN_##name##_I); }
#define DIV(name, expr) DIV_R(name, expr) DIV_I(name, expr)

#define BRANCH(name, cond) OPCASE(name) { uint32_t a = R[FX], b = R[FY];         \
        if (cond) { JUMP(IMM2); }                                               \
        NEXT(HV_LEN_##name); }

int hv_run(struct hv_cpu *c, uint64_t budget)
{
#if HV_CGOTO
#define X_LABEL(name, op, len, priv) [op] = &&L_##name,
    static const void *const disp[256] = {
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Winitializer-overrides"
#endif
        [0 ... 255] = &&L_UNDEF,
        HV_INSTRUCTIONS(X_LABEL)
#if defined(__clang__)
#pragma clang diagnostic pop
#endif
    };
#undef X_LABEL
#endif
    uint32_t *const R = c->regs;
    uint8_t *const M = c->mem;
    const uint64_t msize = c->mem_size;
    const uint64_t dsize = c->nwatch ? 0 : msize;     /* the data accesses' fast path */
    uint64_t ic = c->icount;
    uint64_t end = ic + budget;
    uint64_t stop_at = 0;
    uint32_t pc = c->pc;
    uint8_t ib[8] = {0};          /* an instruction fetched by the slow path */
    const uint8_t *ip = ib, *fbase = ib, *fend = ib;
    uint32_t flo = pc, wlen = 0;  /* window: guest [flo, flo + wlen) starts at fbase */
    uint32_t pg = 0, ureq = 0;    /* status.PG; U_BIT in user mode, else 0 */
    uint32_t f_cause = 0, f_bad = 0, f_len = 0;
    int r;

    if (end < ic)
        end = UINT64_MAX;
    goto boundary_first;      /* the boundary a run starts at is no breakpoint check */

    SWITCH_BEGIN

    OPCASE(NOP) NEXT(LEN(NOP));
    OPCASE(LI) { R[FX] = IMM2; NEXT(LEN(LI)); }
    OPCASE(MOV) { R[FX] = R[FY]; NEXT(LEN(MOV)); }

    ALU(ADD, a + b)
    ALU(SUB, a - b)
    ALU(MUL, a * b)
    DIV(DIV, sdiv32(a, b))
    DIV(DIVU, a / b)
    DIV(REM, srem32(a, b))
    DIV(REMU, a % b)
    ALU(AND, a & b)
    ALU(OR, a | b)
    ALU(XOR, a ^ b)
    ALU(SHL, a << (b & 31))
    ALU(SHR, a >> (b & 31))
    ALU(SAR, sar32(a, b))

    OPCASE(LD) { uint32_t v; LOAD(R[FY] + IMM2, 4, v, LEN(LD)); R[FX] = v; NEXT(LEN(LD)); }
    OPCASE(LDH) { uint32_t v; LOAD(R[FY] + IMM2, 2, v, LEN(LDH)); R[FX] = v; NEXT(LEN(LDH)); }
    OPCASE(LDB) { uint32_t v; LOAD(R[FY] + IMM2, 1, v, LEN(LDB)); R[FX] = v; NEXT(LEN(LDB)); }
    OPCASE(ST) { STORE(R[FY] + IMM2, 4, R[FX], LEN(ST)); NEXT(LEN(ST)); }
    OPCASE(STH) { STORE(R[FY] + IMM2, 2, R[FX], LEN(STH)); NEXT(LEN(STH)); }
    OPCASE(STB) { STORE(R[FY] + IMM2, 1, R[FX], LEN(STB)); NEXT(LEN(STB)); }
    OPCASE(XCHG) {
        uint32_t va = R[FY] + IMM2, v = R[FX], old;
        uint8_t *p = fast_ptr(c, M, dsize, pg, ureq | W_BIT, va, 4);
        if (LIKELY(p != NULL)) {
            old = ld32(p);
            st32(p, v);
        } else {
            int f = xchg_slow(c, va, v, &old);
            INVALIDATE();
            if (f == WATCHED)
                WATCH_EXIT(HV_WATCH_READ | HV_WATCH_WRITE, va);
            if (f)
                FAULT((uint32_t)f, c->fault_addr, LEN(XCHG));
        }
        R[FX] = old;
        NEXT(LEN(XCHG));
    }

    BRANCH(BEQ, a == b)
    BRANCH(BNE, a != b)
    BRANCH(BLT, (int32_t)a < (int32_t)b)
    BRANCH(BGE, (int32_t)a >= (int32_t)b)
    BRANCH(BLTU, a < b)
    BRANCH(BGEU, a >= b)

    OPCASE(JMP_I) JUMP(IMM1);
    OPCASE(JMP_R) JUMP(R[FX]);
    OPCASE(CALL_I) {
        uint32_t target = IMM1, npc = PC() + LEN(CALL_I), sp = R[15] - 4;
        STORE(sp, 4, npc, LEN(CALL_I));
        R[15] = sp;
        JUMP(target);
    }
    OPCASE(CALL_R) {
        uint32_t target = R[FX], npc = PC() + LEN(CALL_R), sp = R[15] - 4;
        STORE(sp, 4, npc, LEN(CALL_R));
        R[15] = sp;
        JUMP(target);
    }
    OPCASE(RET) {
        uint32_t target;
        LOAD(R[15], 4, target, LEN(RET));
        R[15] += 4;
        JUMP(target);
    }
    OPCASE(PUSH) {
        uint32_t sp = R[15] - 4;
        STORE(sp, 4, R[FX], LEN(PUSH));
        R[15] = sp;
        NEXT(LEN(PUSH));
    }
    OPCASE(POP) {
        uint32_t v;
        LOAD(R[15], 4, v, LEN(POP));
        R[15] += 4;
        R[FX] = v;
        NEXT(LEN(POP));
    }
    OPCASE(SYS) { f_cause = CAUSE_SYSCALL; f_bad = IMM1; f_len = LEN(SYS); goto retire_trap; }
    OPCASE(BRK) { f_cause = CAUSE_BREAKPOINT; f_bad = 0; f_len = LEN(BRK); goto retire_trap; }

    OPCASE(HALT) {
        RETIRE_EXIT(LEN(HALT), EXIT_HALT);
        return EXIT_HALT;
    }
    OPCASE(WFI) {
        if (UNLIKELY(c->gm_ctl & GM_EXIT_WFI))
            GM_EXIT(LEN(WFI));
        if (!c->pending) {
            /* the CPU waits: hv_machine_run passes its idle slots */
            RETIRE_EXIT(LEN(WFI), EXIT_WFI);
            return EXIT_WFI;
        }
        NEXT(LEN(WFI));
    }
    OPCASE(IN) {
        uint32_t x = FX, port = ip[2];
        RETIRE_EXIT(LEN(IN), EXIT_IO_IN);
        c->exit_port = port;
        c->exit_reg = x;
        return EXIT_IO_IN;
    }
    OPCASE(OUT) {
        uint32_t v = R[FX], port = ip[2];
        if (UNLIKELY(!gm_io_exits(c, port)) && port == PORT_CONSOLE_OUT
                && c->gm_con_len < sizeof c->gm_con) {
            /* guest mode, the console left to the core: the byte is posted to a buffer
             * that the host takes at its next exit (a full buffer exits as usual) */
            c->gm_con[c->gm_con_len++] = (uint8_t)v;
            NEXT(LEN(OUT));
        }
        if (UNLIKELY(!gm_io_exits(c, port)) && port == PORT_TIMER) {
            /* guest mode, the timer left to the core by the I/O bitmap: the guest's
             * virtual timer is in the guest-state area; as the device does after the
             * instruction retires, from the next instruction on */
            c->timer_period = v;
            c->timer_next = ic + 1 + v;
            RETIRE_TO_BOUNDARY(LEN(OUT));
        }
        RETIRE_EXIT(LEN(OUT), EXIT_IO_OUT);
        c->exit_port = port;
        c->exit_value = v;
        return EXIT_IO_OUT;
    }
    OPCASE(CLI) {
        c->cr[CR_STATUS] &= ~(uint32_t)ST_IE;
        NEXT(LEN(CLI));
    }
    OPCASE(STI) {
        c->cr[CR_STATUS] |= ST_IE;
        RETIRE_TO_BOUNDARY(LEN(STI));
    }
    OPCASE(IRET) {
        uint32_t st = c->cr[CR_STATUS];
        c->cr[CR_STATUS] = (st & (ST_PG | ST_PKM | ST_PIE)) | ((st >> 3) & (ST_KM | ST_IE));
        INVALIDATE();
        ++ic;
        pc = c->cr[CR_EPC];
        goto boundary;
    }
    OPCASE(MFCR) {
        uint32_t n = FY;
        if (n >= NUM_CRS)
            FAULT(CAUSE_ILLEGAL, 0, LEN(MFCR));
        R[FX] = n < NUM_STORED_CRS ? c->cr[n] : n == CR_CPUID ? c->cpuid : (uint32_t)ic;
        NEXT(LEN(MFCR));
    }
    OPCASE(MTCR) {
        uint32_t n = FX;
        if (n >= NUM_CRS)
            FAULT(CAUSE_ILLEGAL, 0, LEN(MTCR));
        if (n >= NUM_STORED_CRS)          /* cpuid and icount are read-only */
            NEXT(LEN(MTCR));
        uint32_t v = R[FY];
        if (UNLIKELY(c->gm_ctl & GM_EXIT_PTBR) && (n == CR_PTBR
                || (n == CR_STATUS && ((v & ST_MASK) ^ c->cr[CR_STATUS]) & ST_PG)))
            GM_EXIT(LEN(MTCR));
        if (n == CR_STATUS) {
            v &= ST_MASK;
            if ((v ^ c->cr[CR_STATUS]) & ST_PG)
                hv_tlb_flush(c);
        } else if (n == CR_PTBR) {
            hv_tlb_flush(c);
        }
        c->cr[n] = v;
        INVALIDATE();
        RETIRE_TO_BOUNDARY(LEN(MTCR));
    }
    OPCASE(TLBFLUSH) {
        if (UNLIKELY(c->gm_ctl & GM_EXIT_TLBFLUSH))
            GM_EXIT(LEN(TLBFLUSH));
        hv_tlb_flush(c);
        INVALIDATE();
        RETIRE_TO_BOUNDARY(LEN(TLBFLUSH));
    }
    OPDEFAULT {
        /* an undefined opcode reached through a fetch window: nothing but the opcode
         * byte was fetched, as in the slow path */
        FAULT(CAUSE_ILLEGAL, 0, 0);
    }

    SWITCH_END

seq_boundary:
    pc = PC();
    goto boundary;

seq_refetch:
    pc = PC();
    /* fall through */

fetch_new:
    /* the window is left (sequentially or by a jump): a boundary whose only work is the
     * breakpoint check */
    if (UNLIKELY(c->nbreak) && is_break(c, pc))
        goto break_exit;
    goto fetch_pc;

boundary:
    /* the work of an instruction boundary, in refcore's order; pc is the guest pc. First
     * a breakpoint (this CPU got here by retiring an instruction or taking a trap) */
    if (UNLIKELY(c->nbreak) && is_break(c, pc))
        goto break_exit;
boundary_first:
    if (ic >= end) {
        c->pc = pc;
        c->icount = ic;
        clear_exit(c, EXIT_BUDGET);
        return EXIT_BUDGET;
    }
    if (c->timer_period && ic >= c->timer_next) {
        c->pending |= IRQ_TIMER;
        c->timer_next += c->timer_period;
    }
    if (c->pending && (c->cr[CR_STATUS] & ST_IE)) {
        /* the lowest pending cause first: bit k of pending is cause IRQ_BASE_CAUSE + k */
        uint32_t bit = c->pending & (0u - c->pending) & IRQ_MASK;
        uint32_t cause = IRQ_BASE_CAUSE + (bit == IRQ_TIMER ? 0u : bit == IRQ_DEVICE ? 1u : 2u);
        c->pending &= ~bit;
        r = take_trap(c, cause, pc, bit == IRQ_IPI ? c->ipi_from : 0, NULL, 0);
        if (r >= 0) {
            c->icount = ic;
            return r;
        }
        pc = c->pc;
        INVALIDATE();
        goto boundary;
    }
    stop_at = end;
    if (c->timer_period && c->timer_next < stop_at)
        stop_at = c->timer_next;
    /* fall through */

fetch_pc: {
        /* fetch the instruction at guest pc: through the current window, a new one, or
         * the slow path */
        const uint32_t st = c->cr[CR_STATUS];
        pg = (st & ST_PG) | (c->gm ? ST_PG : 0);      /* guest mode always translates */
        ureq = (st & ST_KM) ? 0 : U_BIT;
        uint32_t off = pc - flo;
        if (off < wlen) {
            ip = fbase + off;
            DISPATCH();
        }
        if (!pg) {
            if (msize >= 6 && (uint64_t)pc + 6 <= msize) {
                flo = 0;
                wlen = (uint32_t)(msize - 5);
                if (UNLIKELY(c->nbreak) && !window_clip(c, pc, &flo, &wlen))
                    goto fetch_slow;
                fbase = M + flo;
                fend = fbase + wlen;
                ip = M + pc;
                DISPATCH();
            }
        } else {
            const struct hv_tlb_entry *e = &c->tlb[(pc >> 12) & (HV_TLB_ENTRIES - 1)];
            if (e->vpn == (pc >> 12) && (e->rights & ureq) == ureq && !(e->frame & 0xfffu)
                && e->frame < msize) {
                uint64_t avail = msize - e->frame;
                if (avail > 0x1000)
                    avail = 0x1000;
                if ((pc & 0xfffu) + 6 <= avail) {
                    flo = pc & ~0xfffu;
                    wlen = (uint32_t)avail - 5;
                    if (UNLIKELY(c->nbreak) && !window_clip(c, pc, &flo, &wlen))
                        goto fetch_slow;
                    fbase = M + e->frame + (flo & 0xfffu);
                    fend = fbase + wlen;
                    ip = M + e->frame + (pc & 0xfffu);
                    DISPATCH();
                }
            }
        }
        goto fetch_slow;
    }

fetch_slow: {
        /* refcore's _fetch: the opcode byte, undefined opcode, then the rest */
        uint32_t p;
        int f = hv_translate(c, pc, K_FETCH, &p);
        flo = pc;
        fbase = ib;
        ip = ib;
        INVALIDATE();
        if (f) {
            f_cause = (uint32_t)f;
            f_bad = c->fault_addr;
            f_len = 0;
            goto fault;
        }
        uint8_t op = M[p];
        unsigned n = hv_length[op];
        if (n == 0) {
            f_cause = CAUSE_ILLEGAL;
            f_bad = 0;
            f_len = 0;
            goto fault;
        }
        if (n > 1) {
            uint32_t pa[6];
            f = span(c, pc, n, K_FETCH, pa);
            if (f) {
                f_cause = (uint32_t)f;
                f_bad = c->fault_addr;
                f_len = 0;
                goto fault;
            }
            for (unsigned i = 0; i < n; i++)
                ib[i] = M[pa[i]];
        } else {
            ib[0] = op;
        }
        for (unsigned i = n; i < sizeof ib; i++)
            ib[i] = 0;
        DISPATCH();
    }

fault:
    /* a fault of the instruction at PC(): it does not retire */
    pc = PC();
    r = take_trap(c, f_cause, pc, f_bad, ip, f_len);
    if (r >= 0) {
        c->icount = ic;
        return r;
    }
    pc = c->pc;
    INVALIDATE();
    goto boundary;

break_exit:
    /* a breakpoint: the CPU stands before the instruction at pc */
    c->pc = pc;
    c->icount = ic;
    clear_exit(c, EXIT_BREAK);
    c->exit_epc = pc;
    return EXIT_BREAK;

retire_trap:
    /* sys and brk: they retire, and epc is the next instruction */
    ++ic;
    pc = PC();
    r = take_trap(c, f_cause, pc + f_len, f_bad, ip, f_len);
    if (r >= 0) {
        c->icount = ic;
        return r;
    }
    pc = c->pc;
    INVALIDATE();
    goto boundary;
}

uint64_t hv_run_packed(struct hv_cpu *c, uint64_t budget)
{
    uint64_t r = (uint64_t)hv_run(c, budget);
    if (r == EXIT_TRAP || r == EXIT_WATCH)    /* cause, instruction length, badaddr; epc
                                                 is the core's pc */
        return r | (uint64_t)(c->exit_cause & 0xff) << 8
            | (uint64_t)(c->exit_insn_len & 0xff) << 16 | (uint64_t)c->exit_badaddr << 32;
    return r | (uint64_t)(c->exit_port & 0xff) << 8 | (uint64_t)(c->exit_reg & 0xff) << 16
        | (uint64_t)c->exit_value << 32;
}

/* --- the machine: several CPUs taking turns (brief §11; refcore.RefCore.run) ------------ */

void hv_machine_init(struct hv_machine *m, uint8_t *mem, uint32_t mem_size, uint32_t ncpus,
                     uint32_t quantum)
{
    memset(m, 0, sizeof *m);
    if (ncpus < 1)
        ncpus = 1;
    if (ncpus > HV_MAX_CPUS)
        ncpus = HV_MAX_CPUS;
    m->ncpus = ncpus;
    m->quantum = quantum ? quantum : 1;
    for (uint32_t i = 0; i < ncpus; i++) {
        hv_init(&m->cpus[i], mem, mem_size);
        m->cpus[i].cpuid = i;
    }
    m->turn_end = ncpus > 1 ? m->quantum : UINT64_MAX;
}

/* every CPU waits with nothing pending and no timer: nothing could ever wake one */
static int all_stuck(const struct hv_machine *m)
{
    for (uint32_t i = 0; i < m->ncpus; i++) {
        const struct hv_cpu *c = &m->cpus[i];
        if (!c->waiting || c->pending || c->timer_period)
            return 0;
    }
    return 1;
}

int hv_machine_run(struct hv_machine *m, uint64_t budget)
{
    uint64_t left = budget;
    for (;;) {
        struct hv_cpu *c = &m->cpus[m->cur];
        if (c->icount >= m->turn_end) {
            /* the turn is over: the next CPU's begins */
            if (m->ncpus > 1) {
                m->cur = m->cur + 1 < m->ncpus ? m->cur + 1 : 0;
                c = &m->cpus[m->cur];
                m->turn_end = c->icount + m->quantum;
            } else {
                m->turn_end = UINT64_MAX;
            }
            continue;
        }
        if (left == 0) {
            clear_exit(c, EXIT_BUDGET);
            m->exit_cpu = m->cur;
            return EXIT_BUDGET;
        }
        uint64_t slice = m->turn_end - c->icount;
        if (slice > left)
            slice = left;
        if (c->waiting) {
            /* a slot boundary of a waiting CPU: the timer, then wake on anything pending */
            if (c->timer_period && c->icount >= c->timer_next) {
                c->pending |= IRQ_TIMER;
                c->timer_next += c->timer_period;
            }
            if (c->pending) {
                c->waiting = 0;
            } else {
                if (all_stuck(m)) {
                    clear_exit(c, EXIT_WFI);
                    m->exit_cpu = m->cur;
                    return EXIT_WFI;
                }
                uint64_t n = slice;
                if (c->timer_period && c->timer_next - c->icount < n)
                    n = c->timer_next - c->icount;
                c->icount += n;
                c->idle += n;
                left -= n;
                continue;
            }
        }
        uint64_t before = c->icount;
        int r = hv_run(c, slice);
        left -= c->icount - before;
        if (r == EXIT_BUDGET)
            continue;
        if (r == EXIT_WFI) {
            c->waiting = 1;
            if (UNLIKELY(c->nbreak) && is_break(c, c->pc)) {
                /* the wfi retired onto a breakpoint: reported now, as the CPU starts to
                 * wait (its wake-up begins a run, and a run's first boundary is not
                 * checked) */
                clear_exit(c, EXIT_BREAK);
                c->exit_epc = c->pc;
                m->exit_cpu = m->cur;
                return EXIT_BREAK;
            }
            continue;
        }
        m->exit_cpu = m->cur;
        return r;
    }
}

uint64_t hv_machine_run_packed(struct hv_machine *m, uint64_t budget)
{
    uint64_t r = (uint64_t)hv_machine_run(m, budget);
    const struct hv_cpu *c = &m->cpus[m->exit_cpu];
    uint64_t cpu = (uint64_t)(m->exit_cpu & 0xff) << 24;
    if (r == EXIT_TRAP || r == EXIT_WATCH)
        return r | cpu | (uint64_t)(c->exit_cause & 0xff) << 8
            | (uint64_t)(c->exit_insn_len & 0xff) << 16 | (uint64_t)c->exit_badaddr << 32;
    return r | cpu | (uint64_t)(c->exit_port & 0xff) << 8 | (uint64_t)(c->exit_reg & 0xff) << 16
        | (uint64_t)c->exit_value << 32;
}
