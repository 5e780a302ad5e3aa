"""Lockstep: the same program on two cores, one instruction boundary at a time.

Each step is one `run(1)` on both cores. After every step the exits, pc, registers,
control registers, icount, pending interrupts and timer are compared; memory and the TLB
are compared every `mem_every` steps, on every exit other than BUDGET, and at the end.
The first difference is reported with the step number, the pc and the instruction there.

Exits are serviced identically for both cores: IO_OUT is recorded (and, with `devices`,
port 0x20 sets the timer and port 0xFF powers off), IO_IN writes the same value
(`in_value`, 0xffffffff by default, "no input") into the register, and HALT, WFI,
SHUTDOWN, a TRAP exit and power-off end the run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .exits import VMExit
from .image import Image
from .isa import CR, DEFAULT_MEMORY, DEFAULT_QUANTUM, DecodeError, Exit, Port, boot_cpu, decode, pde_address, pte_address

M32 = 0xFFFF_FFFF
STOP_EXITS = (Exit.HALT, Exit.WFI, Exit.SHUTDOWN, Exit.TRAP)


@dataclass
class Divergence:
    step: int            # 0-based index of the step after which the cores differ
    pc: int              # pc before that step (the same on both cores)
    # (with budgets > 1, the divergence lies somewhere in the run of that step)
    insn: str            # the instruction at pc, disassembled, or its bytes in hex
    diffs: list[str]     # what differs, one line each

    def describe(self, names: tuple[str, str] = ("c", "py")) -> str:
        lines = [f"divergence at step {self.step}, pc 0x{self.pc:08x}: {self.insn}"]
        lines += [f"  {d}" for d in self.diffs]
        return "\n".join(lines)


@dataclass
class Result:
    steps: int                                   # steps (run() calls) on both cores
    instructions: int = 0                        # instructions retired in those steps
    divergence: Divergence | None = None
    last_exit: VMExit | None = None
    stop: str = "max-steps"                      # why the run ended
    output: list[tuple[int, int]] = field(default_factory=list)   # (port, value) of IO_OUT
    icount: int = 0

    @property
    def ok(self) -> bool:
        return self.divergence is None

    def describe(self) -> str:
        if self.divergence:
            return self.divergence.describe()
        return f"no divergence in {self.instructions} instructions ({self.stop})"


# --- building the cores -------------------------------------------------------------------

def _boot(core, image: Image) -> None:
    image.load_into(core.mem, core.mem_size)
    for cpu in core.cpus:                  # every CPU starts at the entry (brief §11)
        boot_cpu(cpu, image.entry, core.mem_size)


def _setup_fn(image_or_setup) -> Callable:
    if isinstance(image_or_setup, Image):
        return lambda core: _boot(core, image_or_setup)
    if isinstance(image_or_setup, (bytes, bytearray)):
        return lambda core: _boot(core, Image(0, [(0, bytes(image_or_setup))]))
    if callable(image_or_setup):
        return image_or_setup
    raise TypeError("lockstep needs an Image, raw code bytes or a setup(core) function")


# --- inspecting without side effects --------------------------------------------------------

def _peek(core, vaddr: int, n: int = 6) -> bytes:
    """Up to n bytes at vaddr as the core would fetch them, walking the page tables by hand
    (the TLB is neither used nor filled); stops at the first unreadable byte."""
    mem, size, cr = core.mem, core.mem_size, core.cr
    out = bytearray()
    for i in range(n):
        va = (vaddr + i) & M32
        pa = va
        if cr[CR.status] & 4:
            pde_a = pde_address(cr[CR.ptbr], va)
            if pde_a + 4 > size:
                break
            pde = int.from_bytes(mem[pde_a:pde_a + 4], "little")
            pte_a = pte_address(pde, va)
            if not pde & 1 or pte_a + 4 > size:
                break
            pte = int.from_bytes(mem[pte_a:pte_a + 4], "little")
            if not pte & 1:
                break
            pa = (pte & 0xFFFFF000) | (va & 0xFFF)
        if pa >= size:
            break
        out.append(mem[pa])
    return bytes(out)


def disassemble(raw: bytes) -> str:
    """One instruction as text, or its bytes in hex when it does not decode."""
    try:
        d = decode(raw)
    except DecodeError as e:
        return f"{raw.hex(' ') or '(no bytes)'} ({e})"
    ops = []
    for kind, v in d.operand_values():
        if kind == "reg":
            ops.append(f"r{v}")
        elif kind == "mem":
            ops.append(f"[r{v[0]} + 0x{v[1]:x}]")
        elif kind == "cr":
            ops.append(CR(v).name if v < len(CR) else f"cr{v}")
        else:
            ops.append(f"0x{v:x}")
    text = d.instr.mnemonic + (" " + ", ".join(ops) if ops else "")
    return f"{text}  ({raw[:d.instr.length].hex(' ')})"


def _quick(core) -> tuple:
    """Everything but memory and the TLBs: every CPU, and whose turn it is."""
    return (core.cur, core.turn_end,
            [(c.pc, c.icount, c.pending, c.timer_period, c.timer_next, c.ipi_from,
              bool(c.waiting), list(c.regs), list(c.cr)) for c in core.cpus])


_QUICK_NAMES = ("pc", "icount", "pending", "timer_period", "timer_next", "ipi_from", "waiting")


def _diff(a, b, names, ea: VMExit, eb: VMExit, full: bool) -> list[str]:
    na, nb = names
    diffs = []
    if ea != eb:
        diffs.append(f"exit: {na} {ea} != {nb} {eb}")
    qa, qb = _quick(a), _quick(b)
    for name, x, y in (("current cpu", qa[0], qb[0]), ("turn end", qa[1], qb[1])):
        if x != y:
            diffs.append(f"{name}: {na} {x} != {nb} {y}")
    if len(qa[2]) != len(qb[2]):
        diffs.append(f"cpus: {na} {len(qa[2])} != {nb} {len(qb[2])}")
    many = len(qa[2]) > 1
    regs, crs = len(_QUICK_NAMES), len(_QUICK_NAMES) + 1
    for k, (ca, cb) in enumerate(zip(qa[2], qb[2])):
        where = f"cpu {k} " if many else ""
        for i, name in enumerate(_QUICK_NAMES):
            if ca[i] != cb[i]:
                diffs.append(f"{where}{name}: {na} 0x{int(ca[i]):x} != {nb} 0x{int(cb[i]):x}")
        for r in range(16):
            if ca[regs][r] != cb[regs][r]:
                diffs.append(f"{where}r{r}: {na} 0x{ca[regs][r]:08x} != {nb} 0x{cb[regs][r]:08x}")
        for r in range(len(ca[crs])):
            if ca[crs][r] != cb[crs][r]:
                diffs.append(f"{where}{CR(r).name}: {na} 0x{ca[crs][r]:08x} != "
                             f"{nb} 0x{cb[crs][r]:08x}")
    if a.host_traps != b.host_traps:
        diffs.append(f"host_traps: {na} 0x{a.host_traps:x} != {nb} 0x{b.host_traps:x}")
    if full:
        diffs += _diff_mem_tlb(a, b, names)
    return diffs


def _tlbs(core) -> list:
    return [c.get_state()["tlb"] for c in core.cpus]


def _diff_mem_tlb(a, b, names) -> list[str]:
    na, nb = names
    diffs = []
    if a.mem != b.mem:
        ma, mb = a.mem, b.mem
        n = min(len(ma), len(mb))
        bad = [i for i in range(n) if ma[i] != mb[i]]
        if len(ma) != len(mb):
            diffs.append(f"memory size: {na} {len(ma)} != {nb} {len(mb)}")
        if bad:
            shown = ", ".join(f"0x{i:x}: {ma[i]:02x}/{mb[i]:02x}" for i in bad[:8])
            more = f" (+{len(bad) - 8} more)" if len(bad) > 8 else ""
            diffs.append(f"memory differs at {len(bad)} bytes ({na}/{nb}): {shown}{more}")
    for k, (ta, tb) in enumerate(zip(_tlbs(a), _tlbs(b))):
        where = f"cpu {k} " if len(a.cpus) > 1 else ""
        for i, (x, y) in enumerate(zip(ta, tb)):
            if (list(x) if x else None) != (list(y) if y else None):
                diffs.append(f"{where}tlb[{i}]: {na} {x} != {nb} {y}")
    return diffs


# --- the lockstep loop --------------------------------------------------------------------

def lockstep(image_or_setup, max_steps: int, *, mem_size: int = DEFAULT_MEMORY,
             kinds: tuple[str, str] = ("c", "py"), cores=None, mem_every: int = 64,
             in_value: int = M32, devices: bool = True, budget=1, cpus: int = 1,
             quantum: int = DEFAULT_QUANTUM) -> Result:
    """Run a program on two cores in lockstep for at most `max_steps` steps.

    `image_or_setup`: an `Image` (booted as the bare machine boots it), raw code bytes
    (loaded at 0, entry 0), or a function `setup(core)` that loads and prepares a fresh
    core (it is called once per core, so both start identical). `cores` overrides `kinds`
    with two ready-made cores (then `image_or_setup` may be None).

    `budget`: the budget of each step's `run()`, 1 by default (true lockstep); an int or a
    function step -> int. Larger budgets compare only at the end of each run, which
    exercises the cores' hot loops (the run(1) steps mostly test their slow paths)."""
    if cores is None:
        from .cores import make_core
        cores = (make_core(kinds[0], mem_size=mem_size, cpus=cpus, quantum=quantum),
                 make_core(kinds[1], mem_size=mem_size, cpus=cpus, quantum=quantum))
        setup = _setup_fn(image_or_setup)
        for c in cores:
            setup(c)
    elif image_or_setup is not None:
        setup = _setup_fn(image_or_setup)
        for c in cores:
            setup(c)
    a, b = cores
    names = (getattr(a, "name", "a"), getattr(b, "name", "b"))
    result = Result(0)

    first = _diff(a, b, names, VMExit(Exit.BUDGET), VMExit(Exit.BUDGET), True)
    if first:
        result.divergence = Divergence(0, a.pc, "(before the first step)", first)
        return result

    step = 0
    ex = None
    budget_of = budget if callable(budget) else (lambda _s: budget)
    while step < max_steps:
        pc = a.pc
        n = budget_of(step)
        i0 = a.icount
        ea = a.run(n)
        eb = b.run(n)
        result.instructions += min(max(a.icount - i0, 0), n)
        is_exit = ea.reason != Exit.BUDGET or eb.reason != Exit.BUDGET
        full = is_exit or (step % mem_every == mem_every - 1)
        # cheap comparison first; the full one (with messages) only when something differs
        if ea != eb or _quick(a) != _quick(b) or (full and (a.mem != b.mem or
                                                             _tlbs(a) != _tlbs(b))):
            diffs = _diff(a, b, names, ea, eb, True)
            if diffs:
                result.divergence = Divergence(step, pc, disassemble(_peek(a, pc)), diffs)
                result.steps = step + 1
                result.last_exit = ea
                result.icount = a.icount
                return result
        step += 1
        ex = ea
        r = ea.reason
        if r == Exit.BUDGET:
            continue
        if r == Exit.IO_OUT:
            result.output.append((ea.port, ea.value))
            if devices and ea.port == Port.TIMER:
                a.set_timer(ea.value)
                b.set_timer(ea.value)
            elif devices and ea.port == Port.IPI:
                a.send_ipi(ea.value)        # from the CPU that exited: the current one
                b.send_ipi(eb.value)
            elif devices and ea.port == Port.POWER:
                result.stop = f"power off ({ea.value})"
                break
        elif r == Exit.IO_IN:
            a.regs[ea.reg] = in_value & M32
            b.regs[eb.reg] = in_value & M32
        else:
            result.stop = ea.describe()
            break
    result.steps = step
    result.last_exit = ex
    result.icount = a.icount
    diffs = _diff(a, b, names, ex or VMExit(Exit.BUDGET), ex or VMExit(Exit.BUDGET), True)
    if diffs:
        result.divergence = Divergence(step, a.pc, disassemble(_peek(a, a.pc)),
                                       ["at the end: " + d for d in diffs])
    return result


def run_lockstep_command(path, max_steps: int, mem_size: int = DEFAULT_MEMORY,
                         out=None, limit_status: int = 0, cpus: int = 1,
                         quantum: int = DEFAULT_QUANTUM) -> int:
    """`hv lockstep`: run an image on the C and the Python core in lockstep and report.
    `path` is an `Image` or the path of an image file. Returns 0 (no divergence),
    1 (divergence) or 2 (the native core is not built); `limit_status` when the cores agreed
    until `max_steps` stopped them (`hv lockstep --max-steps` gives 124, as `hv run` does)."""
    import sys

    from .cores import native_available
    out = out or sys.stdout
    if isinstance(path, Image):
        image = path
    else:
        image = Image.from_bytes(Path(path).read_bytes(), str(path))
    if not native_available():
        print("hv lockstep: the native core is not built; nothing to compare against",
              file=sys.stderr)
        return 2
    res = lockstep(image, max_steps, mem_size=mem_size, cpus=cpus, quantum=quantum)
    print(res.describe(), file=out)
    if not res.ok:
        return 1
    return limit_status if res.stop == "max-steps" else 0
