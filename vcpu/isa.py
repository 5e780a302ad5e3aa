"""The instruction set, defined once.

Every other piece of the project derives from the tables in this module: the assembler's
operand parsing, the disassembler, the reference core's decoder, the generated C header
(`native/opcodes.h`, via `python -m vcpu.gen`) and the tables in `docs/isa.md`.

An instruction is one opcode byte followed by operand bytes laid out by its *format*.
A format names byte fields; an instruction's *syntax* says which assembly operand goes
into which field.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

# --- architectural constants -------------------------------------------------------------

WORD_MASK = 0xFFFF_FFFF
PAGE_SIZE = 4096
PAGE_SHIFT = 12
DEFAULT_MEMORY = 64 * 1024
TLB_ENTRIES = 64
MAX_CPUS = 16               # --cpus N: 1..MAX_CPUS (brief §11)
DEFAULT_QUANTUM = 1000      # --quantum Q: instruction slots per CPU turn


class Status(IntEnum):
    """Bits of the `status` control register (brief §2)."""
    KM = 1 << 0    # kernel mode
    IE = 1 << 1    # interrupts enabled
    PG = 1 << 2    # paging on
    PKM = 1 << 3   # KM before the last trap
    PIE = 1 << 4   # IE before the last trap


STATUS_MASK = 0x1F


# Boot (brief §2, on every CPU at once, §11): kernel mode, interrupts off, paging off; every
# register and control register 0 except sp = the top of memory and pc = the entry.
BOOT_STATUS = 0x1          # Status.KM


def boot_cpu(cpu, entry: int, mem_top: int) -> None:
    """Put a freshly made (all-zero) CPU in the boot state. `cpu` has pc, regs and cr."""
    cpu.pc = entry & 0xFFFF_FFFF
    cpu.regs[15] = mem_top & 0xFFFF_FFFF       # sp
    cpu.cr[0] = BOOT_STATUS                    # status


def status_on_trap(st: int) -> int:
    """`status` after a trap: PKM ← KM, PIE ← IE, KM ← 1, IE ← 0, PG unchanged."""
    return (st & Status.PG) | Status.KM | ((st & (Status.KM | Status.IE)) << 3)


def status_on_iret(st: int) -> int:
    """`status` after `iret`: KM ← PKM, IE ← PIE; PKM, PIE and PG unchanged."""
    return (st & (Status.PG | Status.PKM | Status.PIE)) | ((st >> 3) & (Status.KM | Status.IE))


class CR(IntEnum):
    """Control registers, numbered as they are encoded in `mfcr`/`mtcr`."""
    status = 0
    evec = 1
    epc = 2
    cause = 3
    badaddr = 4
    ptbr = 5
    scratch = 6
    cpuid = 7      # read-only: this CPU's number, 0..N-1
    icount = 8     # read-only: low 32 bits of this CPU's clock (its instruction count)


NUM_CRS = len(CR)            # the numbers `mfcr`/`mtcr` accept; larger ones are illegal
# The control registers a CPU stores (its `cr` list); cpuid and icount are computed when
# read, and `mtcr` to them is ignored (the instruction still retires).
STORED_CRS = 7
READ_ONLY_CRS = frozenset({CR.cpuid, CR.icount})


class Cause(IntEnum):
    """Trap causes as they appear in `cause` (brief §2)."""
    SYSCALL = 1
    BREAKPOINT = 2
    PRIVILEGED = 3
    ILLEGAL = 4
    PAGE_FAULT_READ = 5
    PAGE_FAULT_WRITE = 6
    PAGE_FAULT_FETCH = 7
    DIVIDE = 8
    TIMER = 16
    DEVICE = 17
    IPI = 18


CAUSE_TEXT = {
    Cause.SYSCALL: "syscall",
    Cause.BREAKPOINT: "breakpoint",
    Cause.PRIVILEGED: "privileged instruction",
    Cause.ILLEGAL: "illegal instruction",
    Cause.PAGE_FAULT_READ: "page fault on read",
    Cause.PAGE_FAULT_WRITE: "page fault on write",
    Cause.PAGE_FAULT_FETCH: "page fault on fetch",
    Cause.DIVIDE: "divide by zero",
    Cause.TIMER: "timer interrupt",
    Cause.DEVICE: "device interrupt",
    Cause.IPI: "inter-processor interrupt",
}

# Causes whose epc is the faulting instruction (it re-executes once fixed); the others
# (syscall, breakpoint, interrupts) save the address of the next instruction.
FAULT_CAUSES = frozenset({Cause.PRIVILEGED, Cause.ILLEGAL, Cause.PAGE_FAULT_READ,
                          Cause.PAGE_FAULT_WRITE, Cause.PAGE_FAULT_FETCH, Cause.DIVIDE})


class Irq(IntEnum):
    """Bits of the pending-interrupt word, one per interrupt cause in cause order, so that
    the lowest pending bit is the lowest pending cause: the one delivered first (§11)."""
    TIMER = 1 << 0     # cause 16
    DEVICE = 1 << 1    # cause 17
    IPI = 1 << 2       # cause 18; badaddr = the sender's CPU number


IRQ_MASK = 7
IRQ_BASE_CAUSE = 16       # bit k of the pending word is cause 16 + k


def irq_to_deliver(pending: int) -> int:
    """The pending bit delivered first: the lowest cause (0 when none is pending)."""
    return pending & -pending & IRQ_MASK


def is_double_fault(cause: int, epc: int, status: int, evec: int) -> bool:
    """The one trap that stops the machine (brief §2): a fault raised in kernel mode by the
    instruction at `evec` itself would re-raise itself forever. Every other trap, whatever
    `evec` holds (0 included) and whichever mode, enters the handler at `evec`."""
    return cause in FAULT_CAUSES and bool(status & Status.KM) and epc == evec


class Port(IntEnum):
    """Fixed I/O ports (brief §2) and the project's block device."""
    CONSOLE_OUT = 0x10
    CONSOLE_IN = 0x11
    TIMER = 0x20          # out: this CPU's timer period (0 = off)
    IPI = 0x21            # out: an inter-processor interrupt to CPU value (ignored if >= N)
    DISK_SECTOR = 0x30    # out: first sector number
    DISK_ADDR = 0x31      # out: guest-physical DMA address
    DISK_COUNT = 0x32     # out: number of sectors
    DISK_CMD = 0x33       # out: 1 read, 2 write, 3 flush; in: last status (0 = ok)
    DISK_SIZE = 0x34      # in: disk size in sectors
    DISK_IRQ = 0x35       # out: 1 = raise a device interrupt on completion, 0 = don't
    POWER = 0xFF


# What each port does, for docs/isa.md's port table (vcpu/gen.py refuses a port without one).
PORT_DOC = {
    Port.CONSOLE_OUT: ("out", "console: writes the low byte"),
    Port.CONSOLE_IN: ("in", "console: the next input byte, or -1 (`0xffffffff`) when there is none"),
    Port.TIMER: ("out", "this CPU's timer period in retired instructions, 0 = off"),
    Port.IPI: ("out", "inter-processor interrupt to CPU `value` (cause 18, `badaddr` = the "
               "sender); ignored when `value` ≥ the number of CPUs"),
    Port.DISK_SECTOR: ("out", "disk: first sector"),
    Port.DISK_ADDR: ("out", "disk: DMA address (guest-physical)"),
    Port.DISK_COUNT: ("out", "disk: sector count"),
    Port.DISK_CMD: ("out / in", "disk: command (1 read, 2 write, 3 flush) / status of the last command"),
    Port.DISK_SIZE: ("in", "disk: size in sectors"),
    Port.DISK_IRQ: ("out", "disk: 1 = raise a device interrupt (cause 17) when a command completes"),
    Port.POWER: ("out", "power off with the value as exit status"),
}


class DiskCmd(IntEnum):
    """Commands written to `Port.DISK_CMD`."""
    READ = 1
    WRITE = 2
    FLUSH = 3


class DiskStatus(IntEnum):
    """What `in rX, DISK_CMD` reads back after a request."""
    OK = 0
    NO_DISK = 1
    BAD_SECTOR = 2
    BAD_DMA = 3
    BAD_CMD = 4
    IO_ERROR = 5
    TOO_LARGE = 6       # more sectors than one command may move


class PTE(IntEnum):
    """Page-directory and page-table entry bits (bits 31..12 hold the frame number)."""
    PRESENT = 1 << 0
    WRITABLE = 1 << 1
    USER = 1 << 2


PTE_FRAME_MASK = 0xFFFF_F000
# A 32-bit virtual address splits 10/10/12: directory index, table index, page offset.
VA_DIR_SHIFT = 22
VA_TABLE_SHIFT = 12
VA_INDEX_MASK = 0x3FF
PAGE_OFFSET_MASK = 0xFFF


def pde_address(ptbr: int, va: int) -> int:
    """Physical address of va's page-directory entry."""
    return (ptbr & PTE_FRAME_MASK) + (va >> VA_DIR_SHIFT) * 4


def pte_address(pde: int, va: int) -> int:
    """Physical address of va's page-table entry, in the table `pde` points at."""
    return (pde & PTE_FRAME_MASK) + ((va >> VA_TABLE_SHIFT) & VA_INDEX_MASK) * 4


class Exit(IntEnum):
    """Why `run(budget)` returned (modelled on KVM's exit reasons)."""
    BUDGET = 0      # the instruction budget is spent
    HALT = 1        # `halt` in kernel mode: power off with status 0
    IO_OUT = 2      # `out port, ra`: port and value in the exit
    IO_IN = 3       # `in rd, port`: the caller writes the value into register `reg`
    WFI = 4         # `wfi` with nothing that could ever wake the CPU
    TRAP = 5        # a trap whose cause is in the host-trap mask: cause, pc, badaddr
    SHUTDOWN = 6    # double fault: a kernel-mode fault of the instruction at `evec`
    BREAK = 7       # a debug breakpoint: the CPU arrived at an address set by the host
    WATCH = 8       # a debug watchpoint: the next access touches watched memory (not retired)


# Debug support in the cores (a debugger's breakpoints and watchpoints, set by the host with
# `set_debug`; none on a machine nobody debugs, and then they cost nothing).
MAX_BREAKPOINTS = 64    # breakpoint addresses per CPU
MAX_WATCHPOINTS = 16    # watched ranges per CPU
WATCH_READ, WATCH_WRITE = 1, 2    # a watched range's access mask; xchg is both


# --- formats ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Format:
    """A byte layout. `fields` maps a field name to (byte offset, kind) where kind is
    'hi'/'lo' (a 4-bit nibble), 'u8' or 'u32' (little-endian)."""
    name: str
    length: int
    fields: tuple[tuple[str, int, str], ...]
    diagram: str


FORMATS = {f.name: f for f in (
    Format("N", 1, (), "[op]"),
    Format("R", 2, (("x", 1, "hi"),), "[op] [x:4|0:4]"),
    Format("RR", 2, (("x", 1, "hi"), ("y", 1, "lo")), "[op] [x:4|y:4]"),
    Format("RRR", 3, (("x", 1, "hi"), ("y", 1, "lo"), ("z", 2, "hi")), "[op] [x:4|y:4] [z:4|0:4]"),
    Format("RRI", 6, (("x", 1, "hi"), ("y", 1, "lo"), ("imm", 2, "u32")), "[op] [x:4|y:4] [imm:32]"),
    Format("RI", 6, (("x", 1, "hi"), ("imm", 2, "u32")), "[op] [x:4|0:4] [imm:32]"),
    Format("I", 5, (("imm", 1, "u32"),), "[op] [imm:32]"),
    Format("RP", 3, (("x", 1, "hi"), ("port", 2, "u8")), "[op] [x:4|0:4] [port:8]"),
)}

# Operand kinds in assembly syntax:  reg  register r0..r15/sp     imm  expression (32 bits)
#   mem  [reg + expr]              target  label or address         port  expression 0..255
#   cr   control register name
OPERAND_KINDS = ("reg", "imm", "mem", "target", "port", "cr")

INNOCUOUS = "innocuous"
TRAPPING = "trapping"       # always traps, in both modes, by design (sys, brk)
PRIVILEGED = "privileged"   # sensitive, and traps in user mode


@dataclass(frozen=True)
class Instr:
    opcode: int
    mnemonic: str
    fmt: str
    syntax: tuple[tuple[str, str], ...]   # (operand kind, field); `mem` fills 'y' and 'imm'
    klass: str
    meaning: str
    sensitive: str = ""                   # why it is sensitive, if it is

    @property
    def format(self) -> Format:
        return FORMATS[self.fmt]

    @property
    def length(self) -> int:
        return FORMATS[self.fmt].length

    @property
    def name(self) -> str:
        """Unique name: the mnemonic, with `_i` or `_r` where a mnemonic has two forms."""
        return _FORM_NAMES.get(self.opcode, self.mnemonic)

    @property
    def operands(self) -> str:
        """The operand list as the docs and the listing show it."""
        return ", ".join(_operand_name(self, kind, field) for kind, field in self.syntax)


# How each register operand is named in the docs, by role.
_REG_ROLES = {"st": ("rs",), "sth": ("rs",), "stb": ("rs",), "out": ("ra",), "mtcr": ("ra",),
              "jmp": ("ra",), "call": ("ra",), "push": ("ra",)}


def _operand_name(instr: Instr, kind: str, field: str) -> str:
    if kind == "mem":
        return "[ra + imm]"
    if kind != "reg":
        return {"imm": "imm", "target": "label", "port": "port", "cr": "CR"}[kind]
    if instr.mnemonic in _REG_ROLES:
        return _REG_ROLES[instr.mnemonic][0]
    if instr.klass == INNOCUOUS and instr.mnemonic.startswith("b"):
        return {"x": "ra", "y": "rb"}[field]
    return {"x": "rd", "y": "ra", "z": "rb"}[field]


# ALU operations in one order; the register and immediate forms share it so that
# `opcode & 0x0F` is the ALU function in both groups.
ALU_OPS = (
    ("add", "rd ← ra + {b}"),
    ("sub", "rd ← ra − {b}"),
    ("mul", "rd ← ra × {b} (low 32 bits)"),
    ("div", "rd ← ra ÷ {b}, signed, toward zero; {b} = 0 traps"),
    ("divu", "rd ← ra ÷ {b}, unsigned; {b} = 0 traps"),
    ("rem", "rd ← ra mod {b}, signed, sign of ra; {b} = 0 traps"),
    ("remu", "rd ← ra mod {b}, unsigned; {b} = 0 traps"),
    ("and", "rd ← ra & {b}"),
    ("or", "rd ← ra | {b}"),
    ("xor", "rd ← ra ^ {b}"),
    ("shl", "rd ← ra << ({b} & 31)"),
    ("shr", "rd ← ra >> ({b} & 31), logical"),
    ("sar", "rd ← ra >> ({b} & 31), arithmetic"),
)
ALU_RRR_BASE = 0x10
ALU_RRI_BASE = 0x20

BRANCHES = (
    ("beq", "=", "if ra = rb: pc ← target"),
    ("bne", "≠", "if ra ≠ rb: pc ← target"),
    ("blt", "<", "if ra < rb (signed): pc ← target"),
    ("bge", "≥", "if ra ≥ rb (signed): pc ← target"),
    ("bltu", "<u", "if ra < rb (unsigned): pc ← target"),
    ("bgeu", "≥u", "if ra ≥ rb (unsigned): pc ← target"),
)
BRANCH_BASE = 0x40

R, I, M, T, P, C = "reg", "imm", "mem", "target", "port", "cr"


def _table() -> list[Instr]:
    t = [
        Instr(0x01, "nop", "N", (), INNOCUOUS, "nothing"),
        Instr(0x02, "li", "RI", ((R, "x"), (I, "imm")), INNOCUOUS, "rd ← imm"),
        Instr(0x03, "mov", "RR", ((R, "x"), (R, "y")), INNOCUOUS, "rd ← ra"),
    ]
    for i, (m, meaning) in enumerate(ALU_OPS):
        t.append(Instr(ALU_RRR_BASE + i, m, "RRR", ((R, "x"), (R, "y"), (R, "z")), INNOCUOUS,
                       meaning.format(b="rb")))
        t.append(Instr(ALU_RRI_BASE + i, m, "RRI", ((R, "x"), (R, "y"), (I, "imm")), INNOCUOUS,
                       meaning.format(b="imm")))
    t += [
        Instr(0x30, "ld", "RRI", ((R, "x"), (M, "y")), INNOCUOUS, "rd ← mem32[ra + imm]"),
        Instr(0x31, "ldh", "RRI", ((R, "x"), (M, "y")), INNOCUOUS, "rd ← zero-extend mem16[ra + imm]"),
        Instr(0x32, "ldb", "RRI", ((R, "x"), (M, "y")), INNOCUOUS, "rd ← zero-extend mem8[ra + imm]"),
        Instr(0x34, "st", "RRI", ((R, "x"), (M, "y")), INNOCUOUS, "mem32[ra + imm] ← rs"),
        Instr(0x35, "sth", "RRI", ((R, "x"), (M, "y")), INNOCUOUS, "mem16[ra + imm] ← rs & 0xffff"),
        Instr(0x36, "stb", "RRI", ((R, "x"), (M, "y")), INNOCUOUS, "mem8[ra + imm] ← rs & 0xff"),
        Instr(0x37, "xchg", "RRI", ((R, "x"), (M, "y")), INNOCUOUS,
              "rd ↔ mem32[ra + imm], atomically (translated as a store)"),
    ]
    for i, (m, _, meaning) in enumerate(BRANCHES):
        t.append(Instr(BRANCH_BASE + i, m, "RRI", ((R, "x"), (R, "y"), (T, "imm")), INNOCUOUS,
                       meaning))
    t += [
        Instr(0x48, "jmp", "I", ((T, "imm"),), INNOCUOUS, "pc ← target"),
        Instr(0x49, "jmp", "R", ((R, "x"),), INNOCUOUS, "pc ← ra"),
        Instr(0x4A, "call", "I", ((T, "imm"),), INNOCUOUS, "sp ← sp − 4; mem32[sp] ← next pc; pc ← target"),
        Instr(0x4B, "call", "R", ((R, "x"),), INNOCUOUS, "sp ← sp − 4; mem32[sp] ← next pc; pc ← ra"),
        Instr(0x4C, "ret", "N", (), INNOCUOUS, "pc ← mem32[sp]; sp ← sp + 4"),
        Instr(0x50, "push", "R", ((R, "x"),), INNOCUOUS, "mem32[sp − 4] ← ra; sp ← sp − 4"),
        Instr(0x51, "pop", "R", ((R, "x"),), INNOCUOUS, "rd ← mem32[sp]; sp ← sp + 4"),
        Instr(0x58, "sys", "I", ((I, "imm"),), TRAPPING, "trap: cause ← 1, badaddr ← imm, epc ← next pc",
              "changes mode, but traps in every mode"),
        Instr(0x59, "brk", "N", (), TRAPPING, "trap: cause ← 2, epc ← next pc",
              "changes mode, but traps in every mode"),
        Instr(0x60, "halt", "N", (), PRIVILEGED, "power off with status 0", "control: stops the machine"),
        Instr(0x61, "wfi", "N", (), PRIVILEGED, "wait until an interrupt is pending",
              "control: stops the CPU until an interrupt"),
        Instr(0x62, "in", "RP", ((R, "x"), (P, "port")), PRIVILEGED, "rd ← port",
              "control: reads a device"),
        Instr(0x63, "out", "RP", ((P, "port"), (R, "x")), PRIVILEGED, "port ← ra",
              "control: drives a device"),
        Instr(0x64, "cli", "N", (), PRIVILEGED, "status.IE ← 0", "control: interrupt flag"),
        Instr(0x65, "sti", "N", (), PRIVILEGED, "status.IE ← 1", "control: interrupt flag"),
        Instr(0x66, "iret", "N", (), PRIVILEGED, "KM ← PKM; IE ← PIE; pc ← epc",
              "control: changes mode and interrupt flag"),
        Instr(0x67, "mfcr", "RR", ((R, "x"), (C, "y")), PRIVILEGED,
              "rd ← CR (cpuid: the CPU's number; icount: its clock, low 32 bits)",
              "behaviour: reads mode and machine state"),
        Instr(0x68, "mtcr", "RR", ((C, "x"), (R, "y")), PRIVILEGED,
              "CR ← ra (ignored for the read-only cpuid and icount)",
              "control: mode, vector, page tables"),
        Instr(0x69, "tlbflush", "N", (), PRIVILEGED, "drop every TLB entry",
              "control: address translation"),
    ]
    return t


INSTRUCTIONS: list[Instr] = _table()
BY_OPCODE: dict[int, Instr] = {i.opcode: i for i in INSTRUCTIONS}
BY_MNEMONIC: dict[str, list[Instr]] = {}
for _i in INSTRUCTIONS:
    BY_MNEMONIC.setdefault(_i.mnemonic, []).append(_i)
_FORM_NAMES = {}
for _m, _forms in BY_MNEMONIC.items():
    if len(_forms) > 1:
        for _i in _forms:
            _FORM_NAMES[_i.opcode] = _m + ("_i" if _i.fmt in ("RRI", "I") else "_r")
del _i, _m, _forms

MNEMONICS = sorted(BY_MNEMONIC)
REGISTER_NAMES = {f"r{i}": i for i in range(16)} | {"sp": 15}
SP = 15

# Length of the instruction that starts with each opcode byte (0 = undefined opcode).
LENGTHS = bytes(BY_OPCODE[o].length if o in BY_OPCODE else 0 for o in range(256))


# --- encode / decode ---------------------------------------------------------------------

class DecodeError(ValueError):
    pass


@dataclass(frozen=True)
class Decoded:
    instr: Instr
    fields: dict

    def operand_values(self) -> list[tuple[str, int]]:
        """(kind, value) per assembly operand; `mem` gives (reg, offset)."""
        out = []
        for kind, field in self.instr.syntax:
            if kind == "mem":
                out.append((kind, (self.fields["y"], self.fields["imm"])))
            else:
                out.append((kind, self.fields[field]))
        return out


def encode(instr: Instr, **fields: int) -> bytes:
    """Encode `instr` with the given field values (registers 0..15, imm as any 32-bit
    value, signed or unsigned)."""
    fmt = instr.format
    out = bytearray(fmt.length)
    out[0] = instr.opcode
    for name, off, kind in fmt.fields:
        v = fields.get(name, 0)
        if kind in ("hi", "lo"):
            if not 0 <= v <= 15:
                raise ValueError(f"{name}={v} does not fit in 4 bits")
            out[off] |= (v << 4) if kind == "hi" else v
        elif kind == "u8":
            if not 0 <= v <= 255:
                raise ValueError(f"{name}={v} does not fit in 8 bits")
            out[off] = v
        else:
            if not -(1 << 31) <= v <= WORD_MASK:
                raise ValueError(f"{name}={v} does not fit in 32 bits")
            out[off:off + 4] = (v & WORD_MASK).to_bytes(4, "little")
    return bytes(out)


def decode(buf: bytes | bytearray | memoryview, offset: int = 0) -> Decoded:
    """Decode the instruction at `buf[offset]`. Unused nibbles are ignored."""
    if offset >= len(buf):
        raise DecodeError("no instruction: end of buffer")
    op = buf[offset]
    instr = BY_OPCODE.get(op)
    if instr is None:
        raise DecodeError(f"undefined opcode 0x{op:02x}")
    fmt = instr.format
    if offset + fmt.length > len(buf):
        raise DecodeError(f"truncated {instr.mnemonic}: needs {fmt.length} bytes")
    fields = {}
    for name, off, kind in fmt.fields:
        b = buf[offset + off]
        if kind == "hi":
            fields[name] = b >> 4
        elif kind == "lo":
            fields[name] = b & 15
        elif kind == "u8":
            fields[name] = b
        else:
            fields[name] = int.from_bytes(bytes(buf[offset + off:offset + off + 4]), "little")
    return Decoded(instr, fields)


def to_signed(v: int) -> int:
    v &= WORD_MASK
    return v - (1 << 32) if v & 0x8000_0000 else v


# --- ports of the code repository and the network device (mobility/, docs/mobility.md) ------
# Kept in a block of their own; docs/isa.md's "device-ports" table is generated from it.

class RepoPort(IntEnum):
    """The repository device: fetch a program image by name into guest memory."""
    NAME = 0x40       # out: guest-physical address of the NUL-terminated program name
    ADDR = 0x41       # out: guest-physical address of the buffer
    SIZE = 0x42       # out: buffer size in bytes; in: size of the image last fetched
    CMD = 0x43        # out: 1 fetch; in: status of the last command
    IRQ = 0x44        # out: 1 = device interrupt on completion


class NetPort(IntEnum):
    """The network device: send frames by DMA, receive them into a ring by DMA."""
    ADDR = 0x50       # out: guest-physical address of a frame to send, or of the receive ring
    LEN = 0x51        # out: frame length in bytes, or number of ring slots
    CMD = 0x52        # out: 1 send, 2 set the receive ring; in: status of the last command
    IRQ = 0x53        # out: 1 = device interrupt when a frame lands in the ring
    MAC_LO = 0x54     # in: this guest's address, bytes 0..3 (little-endian word)
    MAC_HI = 0x55     # in: bytes 4..5
    RX = 0x56         # in: frames received into the ring so far
    DROPS = 0x57      # in: frames to or from this guest that were dropped
    CLOCK = 0x58      # in: the guest's instruction count (low 32 bits), a time stamp


DEVICE_PORTS = [
    (RepoPort.NAME, "out", "repository: address of the program name (NUL-terminated, < 64 bytes)"),
    (RepoPort.ADDR, "out", "repository: DMA address of the buffer"),
    (RepoPort.SIZE, "out / in", "repository: buffer size / size of the image last fetched"),
    (RepoPort.CMD, "out / in", "repository: command (1 fetch) / status of the last command"),
    (RepoPort.IRQ, "out", "repository: 1 = raise a device interrupt when a command completes"),
    (NetPort.ADDR, "out", "network: DMA address of the frame to send, or of the receive ring"),
    (NetPort.LEN, "out", "network: frame length (14..1514), or number of ring slots (1..64)"),
    (NetPort.CMD, "out / in", "network: command (1 send, 2 set receive ring) / status of the last"),
    (NetPort.IRQ, "out", "network: 1 = raise a device interrupt when a frame is received"),
    (NetPort.MAC_LO, "in", "network: this guest's address, bytes 0..3"),
    (NetPort.MAC_HI, "in", "network: this guest's address, bytes 4..5"),
    (NetPort.RX, "in", "network: frames received into the ring so far"),
    (NetPort.DROPS, "in", "network: frames of this guest dropped (ring full, no such address)"),
    (NetPort.CLOCK, "in", "network: the guest's instruction count (low 32 bits), for time stamps"),
]

# Status codes the two devices report on their command port.
REPO_STATUS = [(0, "ok"), (1, "no such program"), (2, "too big for the buffer (or over 16 MiB)"),
               (3, "repository unreachable (or not a repository)"),
               (4, "hash mismatch (the object is not what the manifest says)"),
               (5, "timeout"), (6, "name or buffer outside guest memory"), (7, "bad program name"),
               (8, "unknown command"), (9, "no repository attached")]
NET_STATUS = [(0, "ok"), (1, "bad frame length"), (2, "frame or ring outside guest memory"),
              (3, "unknown command")]
