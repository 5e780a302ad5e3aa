"""The disassembler: an image back to source that assembles to the same bytes.

Everything about instructions comes from `vcpu.isa`: `decode` finds the instruction and its
fields, the instruction's syntax says how to print each operand. Bytes are shown as code
unless a DATA symbol covers them; bytes that do not decode, or that would not re-encode to
themselves (nonzero unused bits), are shown as `.byte` so the round trip stays exact.
"""
from __future__ import annotations

import bisect
import os
import re
from collections.abc import Mapping
from pathlib import Path

from vcpu import isa
from vcpu.image import CODE, CONST, DATA, Image, Symbol

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INDENT = "    "
_COMMENT_COL = 40
_BYTES_PER_LINE = 8
_ZEROS = re.compile(b"\0+")


# --- one instruction -------------------------------------------------------------------

def decode_exact(buf, offset: int = 0):
    """The decoded instruction at `buf[offset]`, or None when the bytes are not exactly what
    the assembler would write for some instruction."""
    try:
        d = isa.decode(buf, offset)
    except isa.DecodeError:
        return None
    raw = bytes(buf[offset:offset + d.instr.length])
    for kind, fld in d.instr.syntax:
        if kind == "cr" and d.fields[fld] >= isa.NUM_CRS:
            return None
    if isa.encode(d.instr, **d.fields) != raw:
        return None
    return d


def format_immediate(value: int) -> str:
    """Small and small-negative values in decimal, the rest in hex."""
    s = isa.to_signed(value)
    if -4096 <= s <= 4096:
        return str(s)
    if -65536 < s < 0:
        return str(s)
    return f"0x{value & isa.WORD_MASK:x}"


def register_name(n: int) -> str:
    return "sp" if n == isa.SP else f"r{n}"


def format_instruction(d, labels: Mapping[int, str] | None = None) -> str:
    """Assembly text of a decoded instruction; branch, jump and call targets by name when
    `labels` (address -> name) has one."""
    parts = []
    for kind, value in d.operand_values():
        if kind == "reg":
            parts.append(register_name(value))
        elif kind == "cr":
            parts.append(isa.CR(value).name if value < isa.NUM_CRS else f"cr{value}")
        elif kind == "mem":
            base, offset = value
            s = isa.to_signed(offset)
            if s == 0:
                parts.append(f"[{register_name(base)}]")
            elif s < 0 and s > -(1 << 31):
                parts.append(f"[{register_name(base)} - {format_immediate(-s)}]")
            else:
                parts.append(f"[{register_name(base)} + {format_immediate(offset)}]")
        elif kind == "port":
            parts.append(f"0x{value:02x}")
        elif kind == "target":
            name = labels.get(value) if labels else None
            parts.append(name if name else f"0x{value:x}")
        else:
            parts.append(format_immediate(value))
    mnemonic = d.instr.mnemonic
    return f"{mnemonic} {', '.join(parts)}" if parts else mnemonic


def disassemble_one(buf, addr: int = 0, symbols=None) -> str:
    """The instruction at the start of `buf` (its address is `addr`), e.g. `mtcr evec, r1`
    or `call fib`. `symbols` may be an Image, a list of Symbols, or {address: name}.
    Bytes that are not an instruction come out as `.byte 0x..`."""
    d = decode_exact(buf, 0)
    if d is None:
        return f".byte 0x{buf[0]:02x}" if len(buf) else ".byte"
    return format_instruction(d, _label_map(symbols))


def instruction_length(buf, offset: int = 0) -> int:
    """Bytes taken by the instruction at `buf[offset]`, or 1 for a byte that is not one."""
    d = decode_exact(buf, offset)
    return d.instr.length if d else 1


def _label_map(symbols) -> dict[int, str]:
    if symbols is None:
        return {}
    if isinstance(symbols, Image):
        symbols = symbols.symbols
    if isinstance(symbols, Mapping):
        return dict(symbols)
    out: dict[int, str] = {}
    for s in symbols:
        if s.kind != CONST:
            out.setdefault(s.value, s.name)
    return out


# --- addresses as names ----------------------------------------------------------------

class Symbolizer:
    """`name+0x12` for addresses inside an image, by the nearest label at or below."""

    def __init__(self, image: Image):
        labels = sorted(((s.value, i, s.name) for i, s in enumerate(image.symbols)
                         if s.kind != CONST), key=lambda t: (t[0], t[1]))
        self.addresses = [a for a, _, _ in labels]
        self.names = [n for _, _, n in labels]
        self.extents = sorted((a, a + len(d)) for a, d in image.segments)

    def __call__(self, addr: int) -> str:
        i = bisect.bisect_right(self.addresses, addr) - 1
        if i >= 0:
            # The first name given to that address wins.
            base = self.addresses[i]
            j = bisect.bisect_left(self.addresses, base)
            if base == addr:
                return self.names[j]
            if self._inside(addr):
                return f"{self.names[j]}+0x{addr - base:x}"
        return f"0x{addr:x}"

    def _inside(self, addr: int) -> bool:
        i = bisect.bisect_right(self.extents, (addr, float("inf"))) - 1
        return i >= 0 and self.extents[i][0] <= addr < self.extents[i][1]


_symbolizers: dict[int, tuple[Image, int, Symbolizer]] = {}


def symbolize(addr: int, image: Image) -> str:
    """`addr` as `name+0x12` (or `name`, or `0x1234` outside the image's labelled code)."""
    key = id(image)
    hit = _symbolizers.get(key)
    if hit is None or hit[0] is not image or hit[1] != len(image.symbols):
        if len(_symbolizers) > 16:
            _symbolizers.clear()
        hit = (image, len(image.symbols), Symbolizer(image))
        _symbolizers[key] = hit
    return hit[2](addr)


# --- a whole image ---------------------------------------------------------------------

def _usable_names(image: Image) -> tuple[list[Symbol], list[Symbol]]:
    """Labels and constants whose names the assembler accepts, each name once."""
    seen: set[str] = set()
    labels, consts = [], []
    for s in image.symbols:
        if (not _IDENT.match(s.name) or s.name in seen
                or s.name.lower() in isa.REGISTER_NAMES):
            continue
        seen.add(s.name)
        (consts if s.kind == CONST else labels).append(s)
    return labels, consts


def _line(text: str, addr: int | None = None, raw: bytes = b"") -> str:
    text = _INDENT + text
    if addr is None:
        return text
    comment = f"; {addr:08x}" + (":  " + " ".join(f"{b:02x}" for b in raw) if raw else "")
    return f"{text.ljust(_COMMENT_COL - 1)} {comment}"


def _byte_lines(data: bytes, addr: int) -> list[str]:
    """`.byte` lines, with `.space` for runs of zeros."""
    out, i, n = [], 0, len(data)
    while i < n:
        run = _ZEROS.match(data, i)
        zeros = run.end() - i if run else 0
        if zeros >= _BYTES_PER_LINE:
            out.append(_line(f".space {zeros}", addr + i))
            i += zeros
            continue
        end = min(i + _BYTES_PER_LINE, n)
        nxt = data.find(b"\0" * _BYTES_PER_LINE, i, end + _BYTES_PER_LINE)
        if i < nxt < end:
            end = nxt
        chunk = data[i:end]
        out.append(_line(".byte " + ", ".join(f"0x{b:02x}" for b in chunk), addr + i))
        i = end
    return out


def _escape(data: bytes) -> str:
    out = []
    for b in data:
        ch = chr(b)
        if ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch in "\"\\":
            out.append("\\" + ch)
        elif 32 <= b < 127:
            out.append(ch)
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


def _printable(b: int) -> bool:
    return 32 <= b < 127 or b in (9, 10)


def _data_lines(data: bytes, addr: int) -> list[str]:
    """Data as `.ascii`/`.asciz` where it reads as text, `.byte` elsewhere."""
    out, i, n = [], 0, len(data)
    pending = 0           # start of bytes not yet shown
    while i < n:
        j = i
        while j < n and _printable(data[j]):
            j += 1
        if j - i >= 4:
            out += _byte_lines(data[pending:i], addr + pending)
            zero = j < n and data[j] == 0
            text = data[i:j]
            for k in range(0, len(text), 48):
                piece = text[k:k + 48]
                last = k + 48 >= len(text)
                directive = ".asciz" if (last and zero) else ".ascii"
                out.append(_line(f'{directive} "{_escape(piece)}"', addr + i + k))
            i = pending = j + (1 if zero else 0)
        else:
            i = j + 1
    out += _byte_lines(data[pending:n], addr + pending)
    return out


def _code_lines(data: bytes, addr: int, labels: dict[int, str]) -> list[str]:
    out, i, n = [], 0, len(data)
    bad_start = None
    while i < n:
        d = decode_exact(data, i)
        if d is None or i + d.instr.length > n:
            if bad_start is None:
                bad_start = i
            i += 1
            continue
        if bad_start is not None:
            out += _byte_lines(data[bad_start:i], addr + bad_start)
            bad_start = None
        length = d.instr.length
        out.append(_line(format_instruction(d, labels), addr + i, data[i:i + length]))
        i += length
    if bad_start is not None:
        out += _byte_lines(data[bad_start:n], addr + bad_start)
    return out


class SourceLines:
    """Source text by (file, line) for showing the lines the line table names; files that
    cannot be read show as their name and line number only."""

    def __init__(self, base_dirs=()):
        self.base_dirs = list(base_dirs)
        self._files: dict[str, list[str] | None] = {}

    def text(self, file: str, line: int) -> str | None:
        lines = self._files.get(file, False)
        if lines is False:
            lines = None
            for cand in [file] + [os.path.join(d, file) for d in self.base_dirs]:
                try:
                    lines = Path(cand).read_text(errors="replace").splitlines()
                    break
                except OSError:
                    continue
            self._files[file] = lines
        if lines is None or not 1 <= line <= len(lines):
            return None
        return lines[line - 1]


_ADDR_COMMENT = re.compile(r"; ([0-9a-f]{8})(?::|$)")


def interleave_source(text: str, image: Image, sources: SourceLines | None = None) -> str:
    """Put each source line (as a comment) before the first disassembled line it produced."""
    sources = sources or SourceLines()
    out, last = [], None
    for line in text.split("\n"):
        m = _ADDR_COMMENT.search(line)
        if m and image.lines:
            row = image.line_at(int(m.group(1), 16))
            if row is not None and row.address == int(m.group(1), 16):
                key = (row.file, row.line)
                if key != last:
                    last = key
                    name = image.files[row.file]
                    src = sources.text(name, row.line)
                    where = f"{os.path.basename(name)}:{row.line}"
                    out.append(f"; {where}: {src.strip()}" if src is not None else f"; {where}")
        out.append(line)
    return "\n".join(out)


def disassemble(image: Image, source: bool = False) -> str:
    """Source text for `image`: `.org` per segment, `.entry`, `.equ` for constants, labels
    where the symbol table has them, and symbolic branch, jump and call targets. With
    `source`, each source line the line table names comes first, as a comment."""
    text = _disassemble(image)
    return interleave_source(text, image) if source else text


def _disassemble(image: Image) -> str:
    labels, consts = _usable_names(image)
    by_address: dict[int, str] = {}
    for s in labels:
        by_address.setdefault(s.value, s.name)

    # Give every label to the segment it lies in (or ends); the rest become constants.
    placed: list[list[Symbol]] = [[] for _ in image.segments]
    for s in labels:
        home = next((k for k, (a, d) in enumerate(image.segments) if a <= s.value < a + len(d)),
                    None)
        if home is None:
            home = next((k for k, (a, d) in enumerate(image.segments) if s.value == a + len(d)),
                        None)
        if home is None:
            consts.append(Symbol(s.name, s.value, CONST))
        else:
            placed[home].append(s)

    out = ["; hv disassembly: assembles back to the same bytes"]
    for s in consts:
        out.append(f".equ {s.name}, 0x{s.value & isa.WORD_MASK:x}")
    entry = by_address.get(image.entry)
    out.append(f".entry {entry if entry else f'0x{image.entry:x}'}")

    for (start, data), marks in zip(image.segments, placed):
        out.append("")
        out.append(f".org 0x{start:x}")
        marks.sort(key=lambda s: s.value)
        cuts = sorted({s.value for s in marks} | {start, start + len(data)})
        kind_at = {}
        for s in marks:
            # Data wins when one address has both kinds: the round trip is exact either way.
            kind_at[s.value] = DATA if s.kind == DATA or kind_at.get(s.value) == DATA else CODE
        kind = CODE
        names = {}
        for s in marks:
            names.setdefault(s.value, []).append(s.name)
        for a, b in zip(cuts, cuts[1:] + [None]):
            for name in names.get(a, []):
                out.append(f"{name}:")
            if b is None:
                break
            kind = kind_at.get(a, kind)
            chunk = data[a - start:b - start]
            out += _data_lines(chunk, a) if kind == DATA else _code_lines(chunk, a, by_address)
    return "\n".join(out) + "\n"
