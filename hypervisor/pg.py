"""Popek & Goldberg's three properties of a virtual machine monitor, measured on one program.

For every way this hypervisor can virtualize (`--virt trap|hw`, `--paging shadow|nested`):

- **Equivalence**: the program runs on the bare machine and under the hypervisor; what the
  guest can observe (console output, exit status, how the run ended, registers, pc, control
  registers, instruction count) must be identical.
- **Resource control**: the guest runs beside a neighbour guest. The neighbour must print
  exactly what it prints alone, and every pool frame that belongs to nobody must still be
  zero afterwards. What the guest was denied is counted: privileged instructions that
  trapped, faults and accesses the hypervisor refused it, I/O throttling.
- **Efficiency**: the share of the guest's instructions that ran without the hypervisor
  (those that did not exit), and the exits per million instructions.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from vcpu.devices import ConsoleInput
from vcpu.machine import Machine

from .host import Host, frames_needed

# (virt, paging) in the order `hv pg` reports them; the first is the default of `hv boot`.
ALL_MODES = [("trap", "shadow"), ("hw", "shadow"), ("hw", "nested")]

# A neighbour that computes and prints: its output alone is the reference.
NEIGHBOUR = """
.entry start
start:
    li   r1, 0
    li   r2, 0
    li   r3, 20000
sum:
    add  r2, r2, r1
    add  r1, r1, 1
    bne  r1, r3, sum
    li   r4, 8
digits:                         ; print r2's low 32 bits in hex, 8 digits
    shr  r5, r2, 28
    shl  r2, r2, 4
    li   r6, 10
    blt  r5, r6, dec
    add  r5, r5, 39
dec:
    add  r5, r5, 48
    out  0x10, r5
    sub  r4, r4, 1
    li   r6, 0
    bne  r4, r6, digits
    li   r5, 10
    out  0x10, r5
    halt
"""


def mode_name(virt: str, paging: str) -> str:
    return f"{virt}+{paging}"


def available_modes() -> list[tuple[str, str]]:
    """The modes this build of the hypervisor supports."""
    from . import vm as vm_mod
    return [m for m in ALL_MODES if m in getattr(vm_mod, "MODES", [("trap", "shadow")])]


@dataclass
class Observed:
    kind: str
    status: int
    output: bytes
    regs: list
    pc: int
    cr: list
    icount: int


@dataclass
class ModeReport:
    mode: str
    equivalent: bool
    differences: list[str] = field(default_factory=list)
    neighbour_ok: bool = True
    pool_clean: bool = True
    denied: dict = field(default_factory=dict)
    instructions: int = 0
    exits: int = 0
    direct: int = 0

    @property
    def efficiency(self) -> float:
        return self.direct / self.instructions if self.instructions else 1.0

    @property
    def controlled(self) -> bool:
        return self.neighbour_ok and self.pool_clean


def _bare(image, core, mem, max_steps, input_bytes) -> Observed:
    m = Machine(image, mem_size=mem, core=core, console_input=ConsoleInput(input_bytes))
    out = m.run(max_steps)
    return Observed(out.kind, out.status, bytes(m.output), list(m.core.regs), m.core.pc,
                    list(m.core.cr), m.core.icount)


def _add(host, name, image, mem, core, virt, paging, input_bytes=b""):
    kw = {}
    if (virt, paging) != ALL_MODES[0]:
        kw = {"virt": virt, "paging": paging}
    return host.add(name, image, mem_size=mem, core=core,
                    console_input=ConsoleInput(input_bytes), **kw)


def _observe(vm) -> Observed:
    return Observed(vm.stop_kind, vm.status, bytes(vm.output), list(vm.core.regs), vm.core.pc,
                    list(vm.vcr), vm.core.icount)


def _compare(bare: Observed, virt: Observed) -> list[str]:
    diffs = []
    for what in ("kind", "status", "output", "pc", "icount"):
        a, b = getattr(bare, what), getattr(virt, what)
        if a != b:
            diffs.append(f"{what}: bare {a!r}, virtualized {b!r}"[:200])
    for i, (a, b) in enumerate(zip(bare.regs, virt.regs)):
        if a != b:
            diffs.append(f"r{i}: bare 0x{a:x}, virtualized 0x{b:x}")
    for i, (a, b) in enumerate(zip(bare.cr, virt.cr)):
        if a != b:
            diffs.append(f"control register {i}: bare 0x{a:x}, virtualized 0x{b:x}")
    return diffs


def denied(vm) -> dict:
    """What the hypervisor kept from the guest, by kind."""
    s = vm.stats
    io = (s.emulated.get("in", 0) + s.emulated.get("out", 0) + s.exits.get("io_in", 0)
          + s.exits.get("io_out", 0))
    return {"privileged instructions trapped": s.exits.get("trap:3", 0),
            "I/O instructions that exited": io,
            "page faults seen by the host": sum(s.exits.get(f"trap:{c}", 0) for c in (5, 6, 7)),
            "page faults reflected by the host": sum(s.reflected.get(c, 0) for c in (5, 6, 7)),
            "slices cut by the I/O limit": s.throttled}


def check(image, *, core: str = "c", mem: int = 65536, max_steps: int = 10_000_000,
          input_bytes: bytes = b"", modes=None) -> tuple[Observed, list[ModeReport]]:
    from asm.assembler import assemble
    bare = _bare(image, core, mem, max_steps, input_bytes)
    neighbour_img = assemble(NEIGHBOUR, "<neighbour>")
    neighbour_alone = _bare(neighbour_img, core, 65536, None, b"").output
    reports = []
    for virt, paging in (modes or available_modes()):
        name = mode_name(virt, paging)
        # Alone: equivalence and efficiency.
        host = Host(frames_needed(mem) * 4096)
        vm = _add(host, "guest", image, mem, core, virt, paging, input_bytes)
        host.run(max_steps=max_steps)
        seen = _observe(vm)
        diffs = _compare(bare, seen)
        exits = sum(v for k, v in vm.stats.exits.items() if k != "budget")
        # instructions the hypervisor carried out or completed: emulated ones, and in
        # guest mode the I/O, halt and wfi the core handed over
        emulated = sum(vm.stats.emulated.values()) + sum(
            vm.stats.exits.get(k, 0) for k in ("io_in", "io_out", "halt", "wfi"))
        rep = ModeReport(name, not diffs, diffs, instructions=vm.core.icount, exits=exits,
                         direct=vm.core.icount - emulated, denied=denied(vm))
        # Beside a neighbour, in a pool with frames to spare: resource control.
        host = Host((2 * frames_needed(mem) + frames_needed(65536) + 8) * 4096)
        g = _add(host, "guest", image, mem, core, virt, paging, input_bytes)
        nb = _add(host, "neighbour", neighbour_img, 65536, core, virt, paging)
        host.run(max_steps=max_steps)
        rep.neighbour_ok = bytes(nb.output) == neighbour_alone and nb.stop_kind == "poweroff"
        mem_ = host.pool.mem
        rep.pool_clean = all(not any(mem_[f:f + 4096]) for f in host.pool._free)
        del g
        reports.append(rep)
    return bare, reports
