"""Snapshots: a running machine (or one guest of the hypervisor) as a file of plain data.

The file is a header, typed sections and a checksum (field by field in docs/migration.md):

    header   magic "HVSNAP\\r\\n" · u16 format version · u16 flags (0) · u32 ISA fingerprint
             · u32 number of sections · u64 length of the whole file
    section  4-byte tag · u32 encoding (0 raw, 1 zstd) · u64 raw length · u64 stored length
             · stored bytes                                   (repeated)
    trailer  u64 XXH3-64 of everything before it

Sections: `STAT` the state as UTF-8 JSON (CPUs, devices, the hypervisor's view of a guest,
symbols, the run's parameters), `MEMP` memory (zero pages left out), `DISK` the disk's
contents at the snapshot (zero sectors left out). No pickle: nothing in a file is executed,
and every length is checked against a limit before anything is allocated for it.

The same encoding carries a guest over the network in live migration (hypervisor/migrate.py).
The bare machine's capture and restore live here; a guest's in hypervisor/snapshot.py.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import struct
import zlib
from dataclasses import dataclass, field

import xxhash
import zstandard

from .isa import INSTRUCTIONS, NUM_CRS, PAGE_SIZE, STORED_CRS, TLB_ENTRIES, CAUSE_TEXT

MAGIC = b"HVSNAP\r\n"
VERSION = 1
HEADER = struct.Struct("<8sHHIIQ")
SECTION = struct.Struct("<4sIQQ")
TRAILER = struct.Struct("<Q")
RAW, ZSTD = 0, 1

MAX_MEMORY = 1 << 30            # what --mem allows
MAX_DISK = 1 << 30
MAX_STATE = 64 << 20            # the JSON section (symbols of a large image fit easily)
MAX_SECTIONS = 16
SECTOR = 512
M32 = 0xFFFF_FFFF


class SnapshotError(ValueError):
    """A file that cannot be restored; the message is one line naming the file and why."""


@functools.lru_cache(maxsize=1)
def hv_version() -> str:
    try:
        from importlib.metadata import version
        return version("hv")
    except Exception:              # running from a source tree that is not installed
        return "0+unknown"


def isa_fingerprint() -> int:
    """CRC-32 of the instruction table and the trap model: two builds of hv agree on it
    exactly when a state saved by one means the same to the other."""
    text = "|".join(f"{i.opcode:02x} {i.mnemonic} {i.fmt} {i.length} {i.klass}"
                    for i in INSTRUCTIONS)
    text += f"|crs={NUM_CRS}|tlb={TLB_ENTRIES}|page={PAGE_SIZE}|causes={sorted(CAUSE_TEXT)}"
    return zlib.crc32(text.encode())


# --- memory and disk encodings -------------------------------------------------------------

def encode_pages(npages: int, page, indices=None, keep_zero: bool = False) -> bytes:
    """`MEMP` payload: u32 page size · u32 pages in memory · u32 pages stored · u32 index
    per stored page (increasing) · the stored pages. `page(i)` gives page i's bytes; all-zero
    pages are left out (unless `keep_zero`: a pre-copy round must send a page the guest
    cleared). `indices` limits the pages considered."""
    zero = bytes(PAGE_SIZE)
    idx, data = [], []
    for i in (range(npages) if indices is None else indices):
        p = page(i)
        if keep_zero or p != zero:
            idx.append(i)
            data.append(p)
    return (struct.pack("<III", PAGE_SIZE, npages, len(idx))
            + struct.pack(f"<{len(idx)}I", *idx) + b"".join(data))


def decode_pages(raw: bytes, npages: int, put, where: str, *, zero_missing=True) -> int:
    """Write the pages of a `MEMP` payload with `put(i, bytes)`; returns how many."""
    if len(raw) < 12:
        raise SnapshotError(f"{where}: memory section too short")
    psize, n, k = struct.unpack_from("<III", raw)
    if psize != PAGE_SIZE or n != npages or k > n:
        raise SnapshotError(f"{where}: memory section describes {n} pages of {psize} bytes "
                            f"({k} stored); the state says {npages}")
    if len(raw) != 12 + 4 * k + PAGE_SIZE * k:
        raise SnapshotError(f"{where}: memory section has the wrong length")
    idx = struct.unpack_from(f"<{k}I", raw, 12)
    if any(b <= a for a, b in zip(idx, idx[1:])) or (k and idx[-1] >= n):
        raise SnapshotError(f"{where}: memory section page list out of order or range")
    base = 12 + 4 * k
    mv = memoryview(raw)
    stored = set(idx) if zero_missing else ()
    for j, i in enumerate(idx):
        put(i, mv[base + j * PAGE_SIZE:base + (j + 1) * PAGE_SIZE])
    if zero_missing:
        zero = bytes(PAGE_SIZE)
        for i in range(n):
            if i not in stored:
                put(i, zero)
    return k


def encode_disk(data: bytes) -> bytes:
    """`DISK` payload: u32 sectors · u32 sectors stored · u32 index each · the sectors."""
    n = len(data) // SECTOR
    zero = bytes(SECTOR)
    idx = [i for i in range(n) if data[i * SECTOR:(i + 1) * SECTOR] != zero]
    return (struct.pack("<II", n, len(idx)) + struct.pack(f"<{len(idx)}I", *idx)
            + b"".join(data[i * SECTOR:(i + 1) * SECTOR] for i in idx))


def decode_disk(raw: bytes, where: str) -> bytes:
    if len(raw) < 8:
        raise SnapshotError(f"{where}: disk section too short")
    n, k = struct.unpack_from("<II", raw)
    if k > n or n * SECTOR > MAX_DISK or len(raw) != 8 + 4 * k + SECTOR * k:
        raise SnapshotError(f"{where}: disk section has the wrong length")
    idx = struct.unpack_from(f"<{k}I", raw, 8)
    if any(b <= a for a, b in zip(idx, idx[1:])) or (k and idx[-1] >= n):
        raise SnapshotError(f"{where}: disk section sector list out of order or range")
    out = bytearray(n * SECTOR)
    base = 8 + 4 * k
    for j, i in enumerate(idx):
        out[i * SECTOR:(i + 1) * SECTOR] = raw[base + j * SECTOR:base + (j + 1) * SECTOR]
    return bytes(out)


# --- the container --------------------------------------------------------------------------

def pack(sections: list[tuple[bytes, bytes]], level: int = 3) -> bytes:
    """Header, sections (zstd-compressed when that is smaller) and the checksum."""
    cctx = zstandard.ZstdCompressor(level=level)
    body = bytearray()
    for tag, raw in sections:
        z = cctx.compress(raw)
        enc, stored = (ZSTD, z) if len(z) < len(raw) else (RAW, raw)
        body += SECTION.pack(tag, enc, len(raw), len(stored)) + stored
    total = HEADER.size + len(body) + TRAILER.size
    out = HEADER.pack(MAGIC, VERSION, 0, isa_fingerprint(), len(sections), total) + body
    return out + TRAILER.pack(xxhash.xxh3_64_intdigest(out))


def section_limit(tag: bytes) -> int:
    if tag == b"STAT":
        return MAX_STATE
    if tag == b"MEMP":
        n = MAX_MEMORY // PAGE_SIZE
        return 12 + n * (4 + PAGE_SIZE)
    if tag == b"DISK":
        n = MAX_DISK // SECTOR
        return 8 + n * (4 + SECTOR)
    return 0


@dataclass
class Header:
    version: int
    isa: int
    nsections: int
    length: int
    checksum: int


def check(raw: bytes, where: str) -> Header:
    """Magic, version, length, checksum and ISA, in that order: the first that fails is
    the one-line reason."""
    if len(raw) < len(MAGIC) or raw[:len(MAGIC)] != MAGIC:
        raise SnapshotError(f"{where}: not an hv snapshot (bad magic)")
    if len(raw) < HEADER.size + TRAILER.size:
        raise SnapshotError(f"{where}: truncated snapshot ({len(raw)} bytes)")
    _, version, flags, isa, nsec, length = HEADER.unpack_from(raw)
    if version != VERSION:
        raise SnapshotError(f"{where}: snapshot format version {version}; this hv reads "
                            f"version {VERSION}")
    if length != len(raw):
        what = "truncated" if len(raw) < length else "has trailing bytes"
        raise SnapshotError(f"{where}: snapshot {what} ({len(raw)} bytes, the header says "
                            f"{length})")
    (cs,) = TRAILER.unpack_from(raw, len(raw) - TRAILER.size)
    if xxhash.xxh3_64_intdigest(raw[:-TRAILER.size]) != cs:
        raise SnapshotError(f"{where}: corrupt snapshot (checksum mismatch)")
    if flags:
        raise SnapshotError(f"{where}: snapshot uses flags 0x{flags:x} this hv does not know")
    if isa != isa_fingerprint():
        raise SnapshotError(f"{where}: snapshot of another ISA (fingerprint {isa:08x}, this "
                            f"hv {isa_fingerprint():08x})")
    if nsec > MAX_SECTIONS:
        raise SnapshotError(f"{where}: {nsec} sections (at most {MAX_SECTIONS})")
    return Header(version, isa, nsec, length, cs)


def unpack(raw: bytes, where: str) -> tuple[Header, dict[bytes, bytes], dict[bytes, int]]:
    """Checked sections, decompressed: (header, {tag: raw}, {tag: stored length})."""
    h = check(raw, where)
    pos, end = HEADER.size, len(raw) - TRAILER.size
    out, stored_len = {}, {}
    dctx = zstandard.ZstdDecompressor()
    for _ in range(h.nsections):
        if pos + SECTION.size > end:
            raise SnapshotError(f"{where}: section header past the end")
        tag, enc, rawlen, n = SECTION.unpack_from(raw, pos)
        pos += SECTION.size
        limit = section_limit(tag)
        if not limit:
            raise SnapshotError(f"{where}: unknown section {tag!r}")
        if tag in out:
            raise SnapshotError(f"{where}: section {tag.decode()} twice")
        if rawlen > limit or n > end - pos or enc not in (RAW, ZSTD):
            raise SnapshotError(f"{where}: section {tag.decode()} has impossible sizes")
        data = raw[pos:pos + n]
        pos += n
        if enc == ZSTD:
            try:
                data = dctx.decompress(data, max_output_size=rawlen)
            except zstandard.ZstdError as e:
                raise SnapshotError(f"{where}: section {tag.decode()} does not decompress "
                                    f"({e})") from None
        if len(data) != rawlen:
            raise SnapshotError(f"{where}: section {tag.decode()} has the wrong length")
        out[tag] = data
        stored_len[tag] = n
    if pos != end:
        raise SnapshotError(f"{where}: {end - pos} stray bytes after the sections")
    if b"STAT" not in out or b"MEMP" not in out:
        raise SnapshotError(f"{where}: snapshot without state or memory")
    return h, out, stored_len


# --- the state ------------------------------------------------------------------------------

def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise SnapshotError(f"{where}: malformed state ({what})")


def _u(v, bits=32) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < (1 << bits)


def check_cpu(c, where: str) -> None:
    _need(isinstance(c, dict), where, "cpu")
    _need(isinstance(c.get("regs"), list) and len(c["regs"]) == 16
          and all(_u(v) for v in c["regs"]), where, "registers")
    _need(isinstance(c.get("cr"), list) and len(c["cr"]) == STORED_CRS
          and all(_u(v) for v in c["cr"]), where, "control registers")
    for k in ("pc", "timer_period", "pending", "host_traps"):
        _need(_u(c.get(k)), where, k)
    for k in ("icount", "timer_next"):
        _need(_u(c.get(k), 64), where, k)
    tlb = c.get("tlb")
    _need(isinstance(tlb, list) and len(tlb) == TLB_ENTRIES, where, "tlb")
    for e in tlb:
        _need(e is None or (isinstance(e, list) and len(e) == 3 and all(_u(v) for v in e)),
              where, "tlb entry")


def check_state(st, where: str) -> dict:
    _need(isinstance(st, dict), where, "top level")
    _need(st.get("kind") in ("machine", "guest"), where, "kind")
    _need(_u(st.get("mem_size")) and st["mem_size"] % PAGE_SIZE == 0
          and PAGE_SIZE <= st["mem_size"] <= MAX_MEMORY, where, "memory size")
    cpus = st.get("cpus")
    _need(isinstance(cpus, list) and 1 <= len(cpus) <= 16, where, "cpus")
    for c in cpus:
        check_cpu(c, where)
    sched = st.get("sched") or {}
    _need(isinstance(sched, dict) and all(k in ("cur", "turn_end", "quantum") and _u(v, 64)
                                          for k, v in sched.items()), where, "sched")
    _need(sched.get("cur", 0) < len(cpus) and 1 <= sched.get("quantum", 1) < 1 << 32,
          where, "current CPU or quantum")
    _need(isinstance(st.get("devices"), dict), where, "devices")
    _need(_u(st.get("icount"), 64), where, "icount")
    _need(isinstance(st.get("params", {}), dict), where, "params")
    syms = st.get("symbols", [])
    _need(isinstance(syms, list) and all(
        isinstance(s, list) and len(s) == 3 and isinstance(s[0], str) and _u(s[1])
        and _u(s[2], 8) for s in syms), where, "symbols")
    return st


@dataclass
class Snapshot:
    """A checked snapshot: the state, and the memory and disk sections (still encoded)."""
    path: str
    state: dict
    memory: bytes
    disk: bytes | None
    header: Header
    sizes: dict = field(default_factory=dict)   # tag -> (raw, stored)

    @property
    def kind(self) -> str:
        return self.state["kind"]

    def load_memory(self, put) -> int:
        """Write the stored pages with `put(i, bytes)`; the others are left alone (a restore
        starts from fresh, zeroed memory)."""
        return decode_pages(self.memory, self.state["mem_size"] // PAGE_SIZE, put, self.path,
                            zero_missing=False)

    def disk_bytes(self) -> bytes | None:
        if self.disk is None:
            return None
        data = decode_disk(self.disk, self.path)
        want = self.state["devices"].get("disk", {}).get("sha256")
        if hashlib.sha256(data).hexdigest() != want:
            raise SnapshotError(f"{self.path}: disk contents do not match their hash")
        return data


def build(state: dict, memory: bytes, disk: bytes | None = None) -> bytes:
    """A snapshot file's bytes from the state, a `MEMP` payload and the disk's contents."""
    state = dict(state, writer=f"hv {hv_version()}", format=VERSION)
    sections = [(b"STAT", json.dumps(state, separators=(",", ":")).encode()),
                (b"MEMP", memory)]
    if disk is not None:
        sections.append((b"DISK", encode_disk(disk)))
    return pack(sections)


def parse(raw: bytes, where: str) -> Snapshot:
    h, sec, stored = unpack(raw, where)
    try:
        state = json.loads(sec[b"STAT"].decode())
    except (UnicodeDecodeError, ValueError):
        raise SnapshotError(f"{where}: malformed state (not JSON)") from None
    check_state(state, where)
    disk = sec.get(b"DISK")
    if disk is not None:
        _need(isinstance(state["devices"].get("disk"), dict)
              and isinstance(state["devices"]["disk"].get("sha256"), str), where, "disk hash")
    sizes = {t.decode(): (len(v), stored[t]) for t, v in sec.items()}
    return Snapshot(where, state, sec[b"MEMP"], disk, h, sizes)


def read(path: str) -> Snapshot:
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            limit = HEADER.size + TRAILER.size + sum(
                SECTION.size + section_limit(t) for t in (b"STAT", b"MEMP", b"DISK"))
            if size > limit:
                raise SnapshotError(f"{path}: {size} bytes, larger than any snapshot "
                                    f"({limit})")
            raw = f.read(size)
    except FileNotFoundError:
        raise SnapshotError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SnapshotError(f"{path}: is a directory") from None
    except OSError as e:
        raise SnapshotError(f"{path}: {e.strerror or e}") from None
    return parse(raw, path)


def write_file(path: str, data: bytes) -> None:
    """Write through a temporary name, so a crash never leaves half a snapshot."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


# --- the bare machine ----------------------------------------------------------------------

def symbols_of(image) -> list:
    return [[s.name, s.value & M32, s.kind] for s in image.symbols]


def image_from_symbols(syms) -> "object":
    from .image import Image, Symbol
    return Image(symbols=[Symbol(n, v, k) for n, v, k in syms])


def disk_of(bus):
    for d in bus.devices:
        if d.name == "disk":
            return d
    return None


def device_state(bus, with_disk: bool = True) -> tuple[dict, bytes | None]:
    """Every device's `save()`, and the disk's contents. The disk is flushed first so its
    file matches its state; `with_disk` False (live migration: the disk is shared storage,
    handed over by its lock) skips reading it."""
    disk = disk_of(bus)
    attached = disk is not None and disk.path is not None
    contents = None
    if attached:
        if with_disk:
            contents = disk.contents(MAX_DISK)
        else:
            disk.flush()
    for d in bus.devices:
        if d.name == "console":
            d.input.drain()
    state = bus.save()
    if attached:
        entry = state.setdefault("disk", {})
        entry["path"] = os.path.abspath(disk.path)
        if contents is not None:
            entry["sha256"] = hashlib.sha256(contents).hexdigest()
    return state, contents


def cpu_states(core) -> tuple[list, dict]:
    """(one state per CPU, the turn-taking state) from `core.get_state()`, whether the core
    has one CPU (a CPU's dict) or several ({"cpus": [...], "cur", "turn_end", "quantum"})."""
    st = core.get_state()
    if "cpus" in st:
        return list(st["cpus"]), {k: st[k] for k in ("cur", "turn_end", "quantum") if k in st}
    return [st], {}


def set_cpu_states(core, cpus: list, sched: dict | None) -> None:
    if len(cpus) == 1 and not sched:
        core.set_state(cpus[0])
    else:
        core.set_state({"cpus": cpus, **(sched or {})})


def capture_machine(m, params: dict | None = None) -> bytes:
    """A snapshot of a bare machine at its current instruction boundary."""
    core = m.core
    mem = core.mem
    cpus, sched = cpu_states(core)
    devices, disk = device_state(m.bus)
    state = {"kind": "machine", "core": core.name,
             "icount": getattr(core, "slots", core.icount),   # the machine's clock
             "mem_size": core.mem_size, "cpus": cpus, "sched": sched, "devices": devices,
             "symbols": symbols_of(m.image), "params": dict(params or {}),
             "output_bytes": len(m.output)}
    mv = memoryview(mem)
    pages = encode_pages(core.mem_size // PAGE_SIZE,
                         lambda i: bytes(mv[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]))
    return build(state, pages, disk)


def prepare_disk(snap: Snapshot, warn=None) -> str | None:
    """Put the disk file back as it was at the snapshot (when it differs) and return its
    path. The disk is part of the machine's state, like its memory."""
    data = snap.disk_bytes()
    if data is None:
        return None
    path = snap.state["devices"]["disk"].get("path")
    if not isinstance(path, str):
        raise SnapshotError(f"{snap.path}: malformed state (disk path)")
    try:
        with open(path, "rb") as f:
            same = f.read() == data
    except OSError:
        same = False
    if not same:
        try:
            write_file(path, data)
        except OSError as e:
            raise SnapshotError(f"{snap.path}: cannot write the disk {path}: "
                                f"{e.strerror or e}") from None
        if warn:
            warn(f"disk {path} set back to its contents at instruction "
                 f"{snap.state['icount']}")
    return path


def restore_machine(snap: Snapshot, *, core: str | None = None, console_write=None,
                    warn=None):
    """A bare machine in the snapshot's state, ready to `run()` on."""
    from .devices import ConsoleInput
    from .machine import Machine
    st = snap.state
    if st["kind"] != "machine":
        raise SnapshotError(f"{snap.path}: a guest snapshot (restore it under the hypervisor)")
    disk = prepare_disk(snap, warn)
    kw = {}
    if len(st["cpus"]) > 1:        # a multiprocessor: the machine takes its CPUs and quantum
        kw = {"cpus": len(st["cpus"])}
        if isinstance(st.get("sched"), dict) and "quantum" in st["sched"]:
            kw["quantum"] = st["sched"]["quantum"]
    try:
        m = Machine(image_from_symbols(st.get("symbols", [])), mem_size=st["mem_size"],
                    core=core or st.get("core", "c"), console_write=console_write,
                    console_input=ConsoleInput(b""), disk=disk, **kw)
    except (TypeError, OverflowError) as e:
        raise SnapshotError(f"{snap.path}: a machine of {len(st['cpus'])} CPUs cannot be "
                            f"built ({e})") from None
    mem = m.core.mem

    def put(i, data):
        mem[i * PAGE_SIZE:(i + 1) * PAGE_SIZE] = data
    snap.load_memory(put)
    try:
        set_cpu_states(m.core, st["cpus"], st.get("sched") or None)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as e:
        raise SnapshotError(f"{snap.path}: malformed CPU state ({e})") from None
    try:
        m.bus.restore(st["devices"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError):
        raise SnapshotError(f"{snap.path}: malformed device state") from None
    return m


def switch_core(m, kind: str | None = None) -> str:
    """Move a bare machine to the other core (or `kind`) between two instructions: the new
    core takes the same memory and the old core's state. Returns the new core's name."""
    from .cores import make_core
    old = m.core
    kind = kind or ("py" if old.name == "c" else "c")
    new = make_core(kind, memory=old.mem, cpus=old.ncpus, quantum=old.quantum)
    new.set_state(old.get_state())
    m.core = new
    return new.name
