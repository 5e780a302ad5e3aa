"""The image file: what the assembler writes and every machine loads.

Layout (little-endian), version 2 (what the assembler writes):

    header   magic "HVIM" · u16 version · u16 flags (0) · u32 entry · u32 nsegments · u32 nsymbols
    segments nsegments × (u32 address · u32 length · length bytes)
    symbols  nsymbols × (u32 value · u8 kind · u16 name length · UTF-8 name · u32 size)
    files    u32 nfiles · nfiles × (u16 length · UTF-8 path)
    lines    u32 nrows · nrows × (u32 address · u16 file · u32 line · u16 column · u8 flags)
    trailer  u32 CRC-32 of everything before it

Version 1 (still read) has no symbol sizes and no `files`/`lines` tables.

Symbol kinds: 0 a code label, 1 a data label (bytes the disassembler shows as data), 2 a
constant from `.equ`. A label's size runs to the next label in its segment (or the
segment's end); constants have size 0.

The line table is the debug information: one row per instruction or data directive,
sorted by address, naming the source line that produced those bytes. Through `.include`
the row names the included file; inside a macro expansion it names the line of the
outermost macro call (the line a person wrote), with flag bit 0 set. Paths are as the
assembler saw them (relative paths are relative to where it ran).
"""
from __future__ import annotations

import bisect
import struct
import zlib
from dataclasses import dataclass, field

MAGIC = b"HVIM"
VERSION = 2
READABLE = (1, 2)
HEADER = struct.Struct("<4sHHIII")
SEGMENT = struct.Struct("<II")
SYMBOL = struct.Struct("<IBH")
U16 = struct.Struct("<H")
U32 = struct.Struct("<I")
LINE = struct.Struct("<IHIHB")
IN_MACRO = 1

CODE, DATA, CONST = 0, 1, 2


class ImageError(ValueError):
    """A file that is not a loadable image; the message is one line for the user."""


@dataclass
class Symbol:
    name: str
    value: int
    kind: int = CODE
    size: int = 0


@dataclass(frozen=True, slots=True)
class LineRow:
    """Bytes from `address` on (to the next row) came from `files[file]`:`line`:`column`."""
    address: int
    file: int
    line: int
    column: int = 1
    flags: int = 0


@dataclass
class Image:
    entry: int = 0
    segments: list[tuple[int, bytes]] = field(default_factory=list)
    symbols: list[Symbol] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    lines: list[LineRow] = field(default_factory=list)

    def to_bytes(self, version: int = VERSION) -> bytes:
        if version not in READABLE:
            raise ValueError(f"no image format version {version}")
        out = bytearray(HEADER.pack(MAGIC, version, 0, self.entry, len(self.segments),
                                    len(self.symbols)))
        for addr, data in self.segments:
            out += SEGMENT.pack(addr, len(data)) + data
        for s in self.symbols:
            name = s.name.encode()
            out += SYMBOL.pack(s.value & 0xFFFF_FFFF, s.kind, len(name)) + name
            if version >= 2:
                out += U32.pack(s.size & 0xFFFF_FFFF)
        if version >= 2:
            out += U32.pack(len(self.files))
            for f in self.files:
                name = f.encode("utf-8", "surrogateescape")[:0xFFFF]
                out += U16.pack(len(name)) + name
            out += U32.pack(len(self.lines))
            for r in self.lines:
                out += LINE.pack(r.address & 0xFFFF_FFFF, r.file, r.line & 0xFFFF_FFFF,
                                 min(r.column, 0xFFFF), r.flags)
        out += struct.pack("<I", zlib.crc32(out))
        return bytes(out)

    @classmethod
    def from_bytes(cls, raw: bytes, name: str = "image") -> "Image":
        if len(raw) < HEADER.size + 4:
            raise ImageError(f"{name}: not an hv image (too short: {len(raw)} bytes)")
        magic, version, _flags, entry, nseg, nsym = HEADER.unpack_from(raw)
        if magic != MAGIC:
            raise ImageError(f"{name}: not an hv image (bad magic {magic!r})")
        if version not in READABLE:
            raise ImageError(f"{name}: image format version {version}, this hv reads "
                             f"versions {READABLE[0]} to {READABLE[-1]}")
        (crc,) = struct.unpack_from("<I", raw, len(raw) - 4)
        if zlib.crc32(raw[:-4]) != crc:
            raise ImageError(f"{name}: corrupt image (checksum mismatch; truncated or edited?)")
        img = cls(entry=entry)
        pos = HEADER.size
        end = len(raw) - 4
        try:
            for _ in range(nseg):
                addr, length = SEGMENT.unpack_from(raw, pos)
                pos += SEGMENT.size
                if pos + length > end:
                    raise ImageError(f"{name}: corrupt image (segment past end of file)")
                img.segments.append((addr, bytes(raw[pos:pos + length])))
                pos += length
            for _ in range(nsym):
                value, kind, n = SYMBOL.unpack_from(raw, pos)
                pos += SYMBOL.size
                sym = Symbol(raw[pos:pos + n].decode(), value, kind)
                pos += n
                if version >= 2:
                    (sym.size,) = U32.unpack_from(raw, pos)
                    pos += 4
                img.symbols.append(sym)
            if version >= 2:
                (nfiles,) = U32.unpack_from(raw, pos)
                pos += 4
                for _ in range(nfiles):
                    (n,) = U16.unpack_from(raw, pos)
                    pos += 2
                    if pos + n > end:
                        raise struct.error
                    img.files.append(raw[pos:pos + n].decode("utf-8", "surrogateescape"))
                    pos += n
                (nrows,) = U32.unpack_from(raw, pos)
                pos += 4
                if pos + nrows * LINE.size > end:
                    raise struct.error
                for _ in range(nrows):
                    row = LineRow(*LINE.unpack_from(raw, pos))
                    if row.file >= nfiles:
                        raise ImageError(f"{name}: corrupt image (line table names file "
                                         f"{row.file} of {nfiles})")
                    img.lines.append(row)
                    pos += LINE.size
        except (struct.error, UnicodeDecodeError):
            raise ImageError(f"{name}: corrupt image (tables run past the end)") from None
        if pos != end:
            raise ImageError(f"{name}: corrupt image ({end - pos} stray bytes)")
        return img

    def too_big(self, mem_size: int) -> str | None:
        """Why the image does not fit in `mem_size` bytes of memory, in the user's terms."""
        top = self.size()
        if top <= mem_size:
            return None
        addr = max((a for a, d in self.segments if a + len(d) > mem_size), default=0)
        return (f"a segment at 0x{addr:x} reaches 0x{top - 1:x}, past the end of memory "
                f"({mem_size // 1024} KiB): give more --mem (at most 1G) or load it lower")

    def size(self) -> int:
        """Highest address the image occupies, plus one."""
        return max((a + len(d) for a, d in self.segments), default=0)

    def load_into(self, mem, mem_size: int | None = None) -> None:
        """Copy the segments into a memory buffer, refusing segments that do not fit."""
        limit = len(mem) if mem_size is None else mem_size
        for addr, data in self.segments:
            if addr + len(data) > limit:
                raise ImageError(f"image segment 0x{addr:x}..0x{addr + len(data):x} does not fit "
                                 f"in {limit} bytes of memory (use --mem)")
            mem[addr:addr + len(data)] = data

    def symbol_map(self) -> dict[str, Symbol]:
        return {s.name: s for s in self.symbols}

    # --- debug information ---------------------------------------------------------------
    def line_at(self, addr: int) -> LineRow | None:
        """The line-table row covering `addr` (the last row at or below it, inside a
        segment), or None."""
        rows = self.lines
        if not rows:
            return None
        i = bisect.bisect_right(self._line_addrs(), addr) - 1
        if i < 0:
            return None
        row = rows[i]
        if row.address != addr and not any(a <= addr < a + len(d) and a <= row.address
                                             for a, d in self.segments):
            return None
        return row

    def _line_addrs(self) -> list[int]:
        key = (id(self.lines), len(self.lines))
        if getattr(self, "_addr_key", None) != key:
            self._addr_cache = [r.address for r in self.lines]
            self._addr_key = key
        return self._addr_cache

    def source_of(self, addr: int) -> tuple[str, int, int] | None:
        """(file, line, column) that produced the byte at `addr`, or None."""
        row = self.line_at(addr)
        return (self.files[row.file], row.line, row.column) if row else None

    def addresses_of_line(self, file_index: int, line: int) -> list[int]:
        """Start addresses of the rows for one source line (several for a macro call)."""
        return [r.address for r in self.lines if r.file == file_index and r.line == line]

