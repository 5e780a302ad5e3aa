"""Differential tests: random machines run on the C core and the reference core in lockstep.

A random *machine* is a memory image plus a CPU state: random valid instructions biased to
boundary values (0, 1, -1, INT_MIN, INT_MAX, page and memory edges), user or kernel mode,
paging on or off over small random page tables (some entries outside memory, some not
present, read-only or kernel-only), interrupts on with a timer and pending interrupts, a
trap vector whose handler resumes somewhere after the trap, sometimes a host-trap mask,
sometimes a pre-filled TLB, and sometimes plain random bytes instead of instructions.

Every step is compared (vcpu.lockstep). Together the tests in this file run well over 10**6
lockstep instructions compared one by one: each of the CHUNKS bulk tests asserts its own
share, so the guarantee holds however the tests are scheduled (one process, or spread
over pytest-xdist workers).
"""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcpu import isa
from vcpu.isa import (BY_OPCODE, INNOCUOUS, INSTRUCTIONS, NUM_CRS, PRIVILEGED, STORED_CRS,
                      TLB_ENTRIES, TRAPPING, decode, encode)
from vcpu.lockstep import lockstep

M32 = 0xFFFF_FFFF
KM, IE, PG = 1, 2, 4
TARGET_TOTAL = 1_000_000
CHUNKS = 8
PER_CHUNK = -(-TARGET_TOTAL // CHUNKS)      # each bulk chunk's share, rounded up


# --- a source of random choices: random.Random or hypothesis' draw -------------------------

class RandomSource:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def choice(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def bytes(self, n: int) -> bytes:
        return self.rng.randbytes(n)


class DrawSource:
    def __init__(self, draw):
        self.draw = draw

    def int(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def choice(self, seq):
        return seq[self.draw(st.integers(0, len(seq) - 1))]

    def bytes(self, n: int) -> bytes:
        return self.draw(st.binary(min_size=n, max_size=n))


EDGES = (0, 1, 2, 3, 4, 5, 31, 32, 33, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000,
         0x8000_0001, 0xFFFF_FFFF, 0xFFFF_FFFE, 0xFFFF_FFFC, 0xFFF, 0xFFC, 0xFFD, 0xFFE,
         0x1000, 0x1001, 0xFFFF_F000, 0xFFC0_0000, 0x0040_0000, 0x003F_FFFE)


def word(r, ms: int) -> int:
    """A 32-bit value biased to boundaries."""
    k = r.int(0, 11)
    if k <= 3:
        return r.choice(EDGES)
    if k <= 5:
        return (ms + r.int(-8, 4)) & M32                          # the end of memory
    if k <= 7:
        return (r.int(0, ms // 4096 + 1) * 4096 + r.int(-6, 6)) & M32   # page edges
    if k <= 9:
        return r.int(0, max(ms - 1, 0))
    if k == 10:
        return (-r.int(1, 64)) & M32
    return r.int(0, M32)


# Instruction classes and weights, all derived from the ISA table (vcpu/isa.py), so that a new
# instruction is fuzzed without anyone adding it here: it lands in the class its operands
# and privilege put it in, and `random_operands` fills whatever operands it has.
_ALU_NAMES = {m for m, _ in isa.ALU_OPS}
_BRANCH_NAMES = {m for m, _, _ in isa.BRANCHES}
ALU = [i for i in INSTRUCTIONS if i.mnemonic in _ALU_NAMES]
# every instruction with a memory operand (loads, stores, xchg)
MEMOPS = [i for i in INSTRUCTIONS if any(kind == "mem" for kind, _ in i.syntax)]
BRANCHES = [i for i in INSTRUCTIONS if i.mnemonic in _BRANCH_NAMES]
SPECIAL = {"li", "mov", "nop", "halt", "wfi"}      # their own slots below
# the rest of the unprivileged instructions: jumps, calls, stack, and anything new
FLOW = [i for i in INSTRUCTIONS if i.klass == INNOCUOUS and i not in ALU + MEMOPS + BRANCHES
        and i.mnemonic not in SPECIAL]
TRAPS = [i for i in INSTRUCTIONS if i.klass == TRAPPING]           # sys, brk
# every privileged instruction but halt (which ends the run: it has its own, rare, slot)
PRIV = [i for i in INSTRUCTIONS if i.klass == PRIVILEGED and i.mnemonic not in SPECIAL]
PORTS = (0x10, 0x11, 0x20, 0x20, 0x21, 0x30, 0x7F, 0xFF)


def random_operands(r, ins, ms: int, targets: list[int], data_addrs: list[int]) -> dict:
    """Fields for every operand `ins` has, by operand kind (reg, imm, mem, target, port, cr)."""
    f: dict = {}
    for kind, field in ins.syntax:
        if kind == "reg":
            f[field] = r.int(0, 15)
        elif kind == "imm":
            f[field] = word(r, ms)
        elif kind == "target":
            f[field] = r.choice(targets) if r.int(0, 5) else word(r, ms)
        elif kind == "mem":
            f["y"] = r.int(0, 15)
            f["imm"] = r.choice(data_addrs) if r.int(0, 2) else word(r, ms)
        elif kind == "port":
            f[field] = r.choice(PORTS) if r.int(0, 4) else 0x20
        elif kind == "cr":
            f[field] = r.int(0, 15) if r.int(0, 3) else r.int(0, NUM_CRS)
        else:
            raise AssertionError(f"the fuzzer does not know operand kind {kind!r}")
    return f


def instruction(r, ms: int, targets: list[int], data_addrs: list[int]) -> bytes:
    k = r.int(0, 99)
    reg = lambda: r.int(0, 15)  # noqa: E731
    if k < 8:
        imm = word(r, ms)
        return encode(BY_OPCODE[0x02], x=reg(), imm=imm)
    if k < 10:
        return encode(BY_OPCODE[0x03], x=reg(), y=reg())
    if k < 40:
        ins = r.choice(ALU)
        if ins.fmt == "RRR":
            return encode(ins, x=reg(), y=reg(), z=reg())
        return encode(ins, x=reg(), y=reg(), imm=word(r, ms))
    if k < 58:
        ins = r.choice(MEMOPS)
        j = r.int(0, 3)
        if j == 0:
            # load a boundary address into the base register, then access near it:
            # page edges (straddling accesses), the end of memory, the page tables
            base = reg()
            addr = r.choice(data_addrs)
            return encode(BY_OPCODE[0x02], x=base, imm=addr) + \
                encode(ins, x=reg(), y=base, imm=r.choice((0, 1, 2, 3, -1, -2, -3, 4)) & M32)
        # base register + offset: an absolute address, or anything
        imm = r.choice(data_addrs) if j < 3 else word(r, ms)
        return encode(ins, x=reg(), y=reg(), imm=imm)
    if k < 72:
        ins = r.choice(BRANCHES)
        return encode(ins, x=reg(), y=reg(), imm=r.choice(targets) if r.int(0, 5) else word(r, ms))
    if k < 84:
        ins = r.choice(FLOW)
        return encode(ins, **random_operands(r, ins, ms, targets, data_addrs))
    if k < 87:
        ins = r.choice(TRAPS)
        return encode(ins, **random_operands(r, ins, ms, targets, data_addrs))
    if k < 88:
        return encode(BY_OPCODE[0x01])
    if k < 89 and r.int(0, 3) == 0:
        return encode(BY_OPCODE[0x60])                            # halt: rare
    if k < 91:
        return encode(BY_OPCODE[0x61])                            # wfi
    ins = r.choice(PRIV)
    return encode(ins, **random_operands(r, ins, ms, targets, data_addrs))


def test_the_fuzzer_covers_every_instruction():
    """Every instruction of the ISA table is in exactly one class (or has its own slot)."""
    classes = [ALU, MEMOPS, BRANCHES, FLOW, TRAPS, PRIV,
               [i for i in INSTRUCTIONS if i.mnemonic in SPECIAL]]
    for ins in INSTRUCTIONS:
        homes = sum(ins in c for c in classes)
        assert homes == 1, f"{ins.mnemonic} (0x{ins.opcode:02x}) is in {homes} fuzzer classes"
    r = RandomSource(random.Random(1))
    seen = set()
    for _ in range(20_000):
        raw = instruction(r, 8192, [0, 64], [0, 4096])
        seen.add(decode(raw[6:] if raw[0] == 0x02 and len(raw) > 6 else raw).instr.opcode)
    missing = {i.mnemonic for i in INSTRUCTIONS if i.opcode not in seen}
    assert not missing, f"never generated: {sorted(missing)}"


def page_tables(r, mem: bytearray, ms: int, ptbr: int, keep: tuple[int, ...]) -> None:
    """A page directory at ptbr and a page table: mostly an identity map of memory with
    random rights, some holes, some frames elsewhere or outside memory. The pages holding
    addresses in `keep` (code, handler) are usually identity-mapped with all rights, so
    that most paged machines live long enough to do something."""
    npages = (ms + 4095) // 4096
    frames = list(range(npages))
    if ptbr + 8192 <= ms:
        table = ptbr + 4096
    elif ptbr >= 4096:
        table = ptbr - 4096
    else:
        table = ptbr                                          # shares the directory page
    pde_bits = r.choice((7, 7, 7, 7, 7, 3, 5, 1, 6))
    put = lambda addr, v: mem.__setitem__(slice(addr, addr + 4), (v & M32).to_bytes(4, "little"))  # noqa: E731
    for vpn in range(min(npages + 2, 1024)):
        k = r.int(0, 19)
        if k == 0:
            continue                                           # not present
        frame = vpn if k < 10 else r.choice(frames) if k < 18 else npages + r.int(0, 3)
        rights = r.choice((7, 7, 7, 7, 5, 3, 1, 6))
        put(table + vpn * 4, frame * 4096 | rights)
    for addr in keep:
        if r.int(0, 5):
            put(table + (addr >> 12) * 4, (addr & ~0xFFF) | 7)
    if r.int(0, 2) == 0:
        put(table + 1023 * 4, r.choice(frames) * 4096 | 7)
    put(ptbr, table | pde_bits)
    if r.int(0, 2) == 0:                                      # the top 4 MiB too (wrap-around)
        put(ptbr + 1023 * 4, table | r.choice((7, 5, 3)))
    if r.int(0, 3) == 0:                                      # a table outside memory
        put(ptbr + 4, ((ms + 4096) & ~0xFFF) | 7)


def handler(r, ms, targets) -> bytes:
    """A trap handler: usually resumes after the trap (epc + k), sometimes elsewhere."""
    k = r.int(0, 9)
    e = lambda op, **f: encode(BY_OPCODE[op], **f)  # noqa: E731
    if k < 6:
        step = r.choice((1, 1, 2, 3, 5, 6, 0))
        code = e(0x67, x=13, y=2) + e(0x20, x=13, y=13, imm=step) + e(0x68, x=2, y=13)
        if r.int(0, 3) == 0:
            code = e(0x67, x=12, y=3) + e(0x63, x=12, port=0x10) + code
        return code + e(0x66)
    if k < 8:
        return e(0x02, x=13, imm=r.choice(targets)) + e(0x68, x=2, y=13) + e(0x66)
    if k < 9:
        return e(0x66)
    return b"".join(instruction(r, ms, targets, [0]) for _ in range(4)) + e(0x66)


def machine(r):
    """(mem_size, memory bytes, state dict, max_steps) for one random machine."""
    ms = r.choice((4096 * 2, 4096 * 3, 4096 * 4, 4096 * 5, 4096 * 8, 4096 * 3 + r.int(1, 4095)))
    mem = bytearray(ms)
    npages = ms // 4096
    ptbr = r.int(0, max(npages - 1, 0)) * 4096
    with_tables = r.int(0, 5) > 0
    # code and handler placement: anywhere, including page ends and the end of memory
    code_len = r.int(16, 160) if r.int(0, 4) else r.int(1, 12)
    placement = r.int(0, 5)
    if placement == 0:
        code_at = ms - r.int(1, 40)
    elif placement == 1:
        code_at = r.int(1, max(npages - 1, 1)) * 4096 - r.int(1, 24)
    else:
        code_at = r.int(0, max(ms - 200, 0))
    code_at = max(0, min(code_at, ms - 1))
    hand_at = r.int(0, max(ms - 64, 0)) if r.int(0, 5) else max(ms - r.int(1, 30), 0)
    targets = [code_at + r.int(0, code_len) for _ in range(6)] + [hand_at]
    data_addrs = [ptbr + r.int(0, 16) * 4, ms - r.int(1, 6), r.int(0, npages) * 4096 - r.int(0, 4),
                  r.int(1, npages) * 4096 - r.int(1, 3), r.int(0, ms), code_at + r.int(0, 40),
                  0xFFFF_F000 + r.int(0, 0xFFF), 0xFFFF_FFFE, (ptbr + 4096) & M32]
    if r.int(0, 5) == 0:
        code = r.bytes(code_len)                               # raw random bytes
    else:
        parts, n = [], 0
        while n < code_len:
            ins = instruction(r, ms, targets, data_addrs)
            parts.append(ins)
            n += len(ins)
        code = b"".join(parts)
    hcode = handler(r, ms, targets)
    for at, blob in ((hand_at, hcode), (code_at, code)):     # code wins over the handler
        blob = blob[:max(ms - at, 0)]
        mem[at:at + len(blob)] = blob
    if with_tables:                                           # the tables win over both
        page_tables(r, mem, ms, ptbr, (code_at, hand_at, ms - 1))

    status = r.int(0, 31) if r.int(0, 2) else r.choice((1, 3, 5, 7, 0, 2, 4, 6))
    evec = hand_at if r.int(0, 9) else r.choice((0, word(r, ms)))
    cr = [status, evec, word(r, ms), r.int(0, 17), word(r, ms), ptbr if r.int(0, 7) else word(r, ms),
          word(r, ms)][:STORED_CRS]
    regs = [word(r, ms) if r.int(0, 2) else r.int(0, 64) for _ in range(16)]
    if r.int(0, 2):
        regs[15] = (ms - r.int(0, 3) * 4) & M32
    icount = r.choice((0, 0, r.int(0, 10**6), 2**40 + r.int(0, 99)))
    period = r.choice((0, 0, 1, 2, 3, r.int(1, 40), r.int(1, 400)))
    timer_next = icount + period if r.int(0, 3) else icount + r.int(0, 5)
    tlb = [None] * TLB_ENTRIES
    if r.int(0, 3) == 0:                                      # a pre-filled (maybe stale) TLB
        for _ in range(r.int(1, 6)):
            vpn = r.choice((r.int(0, npages + 1), 0xFFFFF, code_at >> 12))
            tlb[vpn % TLB_ENTRIES] = [vpn, r.int(0, npages + 1) * 4096, r.choice((0, 2, 4, 6))]
    host_traps = 0 if r.int(0, 5) else (1 << r.choice((1, 2, 3, 4, 5, 6, 7, 8, 16, 17, 18)))
    state = {"regs": regs, "pc": code_at, "cr": cr, "icount": icount, "timer_period": period,
             "timer_next": timer_next, "pending": r.int(0, 7) if r.int(0, 2) == 0 else 0,
             "ipi_from": r.int(0, 15), "host_traps": host_traps, "tlb": tlb}
    steps = r.choice((50, 200, 600, 1500))
    # budget per step: true lockstep (1) or runs of random length through the hot loop
    budget = r.choice((1, 1, 1, r.int(2, 9), r.int(10, 300), 3000))
    if budget > 1:
        steps = min(steps, 30_000 // budget + 1)
    return ms, bytes(mem), state, steps, budget


def paging_machine(r):
    """A loop of data accesses at page and memory edges with paging on: straddling
    accesses, TLB hits and misses, rights in both modes, remapping stores into the page
    table (stale TLB entries) and tlbflush. Faulting accesses are skipped by the handler."""
    ms = r.choice((4096 * 4, 4096 * 5, 4096 * 8, 4096 * 3 + r.int(1, 4095)))
    mem = bytearray(ms)
    npages = ms // 4096
    ptbr = r.int(0, npages - 1) * 4096
    table = ptbr + 4096 if ptbr + 8192 <= ms else ptbr - 4096 if ptbr >= 4096 else ptbr
    code_at = r.int(0, ms - 400)
    hand_at = r.int(0, ms - 32)
    e = lambda op, **f: encode(BY_OPCODE[op], **f)  # noqa: E731
    body = []
    for _ in range(r.int(2, 10)):
        k = r.int(0, 9)
        edge = r.choice((r.int(1, npages) * 4096 - r.int(1, 4), ms - r.int(1, 5),
                         table + r.int(0, npages + 1) * 4, 0xFFFF_F000 + r.int(0, 8),
                         r.int(0, npages) * 4096 + r.int(0, 3), 0xFFFF_FFFF - r.int(0, 3)))
        base = r.int(1, 12)
        if k < 7:
            ins = r.choice(MEMOPS)
            body.append(e(0x02, x=base, imm=edge & M32) + encode(ins, x=r.int(0, 12), y=base,
                                                                 imm=r.int(0, 3)))
        elif k == 7:                                          # stack ops at an edge
            body.append(e(0x02, x=15, imm=edge & M32) +
                        r.choice((e(0x50, x=r.int(0, 15)), e(0x51, x=r.int(0, 14)))))
        elif k == 8:                                          # remap a page
            body.append(e(0x02, x=base, imm=(r.int(0, npages) * 4096 | r.choice((7, 5, 3, 1, 0))))
                        + e(0x34, x=base, y=0, imm=table + r.int(0, npages) * 4))
        else:
            body.append(e(0x69) if r.int(0, 1) else e(0x01))
    code = b"".join(body) + e(0x48, imm=code_at)
    step = 6 if r.int(0, 4) else 2
    hcode = e(0x67, x=13, y=2) + e(0x20, x=13, y=13, imm=step) + e(0x68, x=2, y=13) + e(0x66)
    mem[hand_at:hand_at + len(hcode)] = hcode
    mem[code_at:code_at + len(code)] = code
    page_tables(r, mem, ms, ptbr, (code_at, code_at + len(code), hand_at, hand_at + 16))
    for i in range(0, 64, 4):                                 # some data
        mem[r.int(0, ms - 4)] = r.int(0, 255)
    status = PG | r.choice((KM, KM, 0)) | r.choice((0, IE))
    regs = [0] * 16
    regs[15] = ms & M32
    tlb = [None] * TLB_ENTRIES
    state = {"regs": regs, "pc": code_at, "cr": [status, hand_at, 0, 0, 0, ptbr, 0],
             "icount": 0, "timer_period": r.choice((0, 0, 7, 30)), "timer_next": 5,
             "pending": 0, "host_traps": 0, "tlb": tlb}
    budget = r.choice((1, 1, r.int(2, 50)))
    return ms, bytes(mem), state, 300 if budget == 1 else 40, budget


def run_machine(ms, mem, state, steps, budget=1):
    """Run one machine on both cores; counts the instructions compared one by one."""
    def setup(core):
        core.mem[:] = mem
        core.set_state(state)
    if budget > 1:                                 # vary it: a function of the step number
        b0 = budget
        budget = lambda s: b0 if s % 3 else (s * 7919 % b0) + 1  # noqa: E731
    res = lockstep(setup, steps, mem_size=ms, mem_every=16, budget=budget)
    return res


def check(ms, mem, state, steps, budget=1):
    res = run_machine(ms, mem, state, steps, budget)
    assert res.ok, (res.describe() + f"\nmachine: mem_size={ms} budget={budget} state={state!r}")
    return res


@pytest.fixture(autouse=True)
def _native(native):
    """Every test here compares against the C core."""


# --- bulk: many seeded machines (deterministic) ------------------------------------------

def test_the_chunks_cover_the_target():
    """The bulk chunks' shares add up to the target, whatever runs where."""
    assert CHUNKS * PER_CHUNK >= TARGET_TOTAL


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_random_machines(chunk):
    """Seeded random machines in true lockstep (budget 1 per step); each chunk compares at
    least its share (PER_CHUNK) of the 10**6 instructions one by one, and checks it."""
    n = programs = 0
    seed = 1_000_000 * chunk
    while n < PER_CHUNK + 5000:
        r = RandomSource(random.Random(seed))
        ms, mem, state, steps, _budget = machine(r)
        res = check(ms, mem, state, steps, 1)
        assert res.instructions <= res.steps        # compared, not merely run
        n += res.instructions
        programs += 1
        seed += 1
    assert n >= PER_CHUNK and programs >= 100, (n, programs)


@pytest.mark.parametrize("chunk", range(4))
def test_random_machines_hot_loop(chunk):
    """Seeded random machines run in longer runs (budgets 2..3000, compared after each
    run): this exercises the C core's hot loop (fetch windows, in-loop jumps, window
    invalidation) that single steps mostly bypass."""
    for seed in range(500_000 + 150 * chunk, 500_000 + 150 * (chunk + 1)):
        r = RandomSource(random.Random(seed))
        ms, mem, state, steps, budget = machine(r)
        check(ms, mem, state, steps, budget if budget > 1 else 37)


@pytest.mark.parametrize("chunk", range(2))
def test_random_paging_machines(chunk):
    """Seeded loops of data accesses at page edges with paging on."""
    for seed in range(700_000 + 250 * chunk, 700_000 + 250 * (chunk + 1)):
        res = check(*paging_machine(RandomSource(random.Random(seed))))
        assert res.steps > 0


# --- hypothesis: the same generator, with shrinking ---------------------------------------

@st.composite
def machines(draw):
    return machine(DrawSource(draw))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(machines())
def test_hypothesis_machines(m):
    check(*m)


@st.composite
def raw_machines(draw):
    """Raw random bytes everywhere, a random state."""
    ms = draw(st.sampled_from((4096, 8192, 4096 * 3 + 17)))
    mem = bytearray(draw(st.binary(min_size=256, max_size=1024)))
    mem = (mem * (ms // len(mem) + 1))[:ms]
    r = DrawSource(draw)
    regs = [word(r, ms) for _ in range(16)]
    cr = [draw(st.integers(0, 31)), word(r, ms), word(r, ms), 0, 0, draw(st.integers(0, 2)) * 4096, 0]
    state = {"regs": regs, "pc": word(r, ms), "cr": cr, "icount": 0,
             "timer_period": draw(st.sampled_from((0, 1, 7, 50))), "timer_next": 3,
             "pending": draw(st.integers(0, 3)), "host_traps": 0, "tlb": [None] * TLB_ENTRIES}
    return ms, bytes(mem), state, 400


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw_machines())
def test_hypothesis_raw_bytes(m):
    check(*m)
