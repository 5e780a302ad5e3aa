"""The image file: what the assembler writes and every machine loads.

Layout (little-endian), version 1:

    header   magic "HVIM" · u16 version · u16 flags (0) · u32 entry · u32 nsegments · u32 nsymbols
    segments nsegments × (u32 address · u32 length · length bytes)
    symbols  nsymbols × (u32 value · u8 kind · u16 name length · UTF-8 name)
    trailer  u32 CRC-32 of everything before it

Symbol kinds: 0 a code label, 1 a data label (bytes the disassembler shows as data), 2 a
constant from `.equ`.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

MAGIC = b"HVIM"
VERSION = 1
HEADER = struct.Struct("<4sHHIII")
SEGMENT = struct.Struct("<II")
SYMBOL = struct.Struct("<IBH")

CODE, DATA, CONST = 0, 1, 2


class ImageError(ValueError):
    """A file that is not a loadable image; the message is one line for the user."""


@dataclass
class Symbol:
    name: str
    value: int
    kind: int = CODE


@dataclass
class Image:
    entry: int = 0
    segments: list[tuple[int, bytes]] = field(default_factory=list)
    symbols: list[Symbol] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        out = bytearray(HEADER.pack(MAGIC, VERSION, 0, self.entry, len(self.segments),
                                    len(self.symbols)))
        for addr, data in self.segments:
            out += SEGMENT.pack(addr, len(data)) + data
        for s in self.symbols:
            name = s.name.encode()
            out += SYMBOL.pack(s.value & 0xFFFF_FFFF, s.kind, len(name)) + name
        out += struct.pack("<I", zlib.crc32(out))
        return bytes(out)

    @classmethod
    def from_bytes(cls, raw: bytes, name: str = "image") -> "Image":
        if len(raw) < HEADER.size + 4:
            raise ImageError(f"{name}: not an hv image (too short: {len(raw)} bytes)")
        magic, version, _flags, entry, nseg, nsym = HEADER.unpack_from(raw)
        if magic != MAGIC:
            raise ImageError(f"{name}: not an hv image (bad magic {magic!r})")
        if version != VERSION:
            raise ImageError(f"{name}: image format version {version}, this hv reads {VERSION}")
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
                img.symbols.append(Symbol(raw[pos:pos + n].decode(), value, kind))
                pos += n
        except (struct.error, UnicodeDecodeError):
            raise ImageError(f"{name}: corrupt image (tables run past the end)") from None
        if pos != end:
            raise ImageError(f"{name}: corrupt image ({end - pos} stray bytes)")
        return img

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
