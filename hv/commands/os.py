"""`hv os`: run user programs on the teaching OS (guests/os/, brief §9).

    hv os [--cpus N] [--hv] [--core c|py] [--input TEXT] [--max-steps N] PROG.s [MORE.s ...]

assembles each program with `guests/os/` on the include path (for `user.s`), writes them
to a fresh disk image under their base names (`child.s` is `child`), boots the kernel
(`guests/os/kernel.s`) with that disk, bare or under the hypervisor, and the kernel runs
the first program as pid 1. The console shows what the programs wrote and nothing else
unless `--os-verbose`; the exit status is pid 1's (low 8 bits), or 124/125 as for `hv run`.

The disk format (docs/os.md), all words little-endian, 512-byte sectors:

    sector 0     header: "HVOS", version 1, flags (bit 0: verbose kernel), number of
                 programs, first directory sector (1), directory sectors
    sector 1..   directory: 32 bytes a program: name (20 bytes, NUL-padded, at most 19),
                 first sector, size in bytes, entry address
    then         each program's bytes from USER_BASE (0x00400000) on, sector-aligned
"""
from __future__ import annotations

import os
import re
import struct
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

OS_DIR = Path(__file__).resolve().parents[2] / "guests" / "os"
KERNEL = OS_DIR / "kernel.s"
USER_BASE = 0x0040_0000
HEAP_LIMIT = 0x0080_0000
SECTOR = 512
MAGIC = b"HVOS"
VERSION = 1
NAME_MAX = 19
MAX_PROGRAMS = 64
DEFAULT_MEM = 4 << 20            # 4 MiB: room for 32 processes and 96 threads
MAX_MEM = 4 << 20                # the kernel maps (and uses) at most this much


class OSError_(ValueError):
    """A user error in `hv os` (one line)."""


# --- assembling -------------------------------------------------------------------------

def assemble_user(path: str | os.PathLike):
    """Assemble a user program: `.include` looks beside the including file, then in each
    `-I DIR`, then in guests/os/ (where `user.s` is), as the brief's include path says."""
    from asm import assembler as A
    asm = A.Assembler()
    asm.include_path = list(A.INCLUDE_PATH) + [str(OS_DIR)]
    return asm.run_file(path).image


@lru_cache(maxsize=1)
def kernel_image():
    from asm.assembler import assemble_file
    return assemble_file(KERNEL)


def flatten(image, name: str) -> tuple[bytes, int]:
    """A user image as the bytes from USER_BASE on, and its entry."""
    if not image.segments:
        raise OSError_(f"{name}: the program is empty")
    lo = min(a for a, _ in image.segments)
    hi = max(a + len(d) for a, d in image.segments)
    if lo < USER_BASE or hi > HEAP_LIMIT:
        raise OSError_(f"{name}: a user program must lie in 0x{USER_BASE:08x}-0x{HEAP_LIMIT:08x} "
                       f'(start it with .include "user.s")')
    flat = bytearray(hi - USER_BASE)
    for a, d in image.segments:
        flat[a - USER_BASE:a - USER_BASE + len(d)] = d
    return bytes(flat), image.entry


def program_name(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


REPO_SPARE = 2048                # free sectors (1 MiB) for programs fetched from a repository


def build_disk(programs: list[tuple[str, bytes, int]], verbose: bool = False,
               spare_sectors: int = 0) -> bytes:
    """The disk image: programs as (name, bytes from USER_BASE, entry). With spare sectors
    (`--repo`), the directory has room for MAX_PROGRAMS entries and the disk ends in that
    much free space, where the kernel caches the programs it fetches (kernel/repo.s)."""
    if not programs:
        raise OSError_("no programs")
    if len(programs) > MAX_PROGRAMS:
        raise OSError_(f"at most {MAX_PROGRAMS} programs fit on the OS's disk")
    seen = set()
    for name, _, _ in programs:
        raw = name.encode()
        if not raw or len(raw) > NAME_MAX or b"\0" in raw:
            raise OSError_(f"program name {name!r}: 1 to {NAME_MAX} bytes")
        if name in seen:
            raise OSError_(f"two programs are named {name!r}")
        seen.add(name)
    dir_sectors = -(-len(programs) * 32 // SECTOR)
    if spare_sectors:
        dir_sectors = MAX_PROGRAMS * 32 // SECTOR
    header = MAGIC + struct.pack("<5I", VERSION, 1 if verbose else 0, len(programs), 1,
                                 dir_sectors)
    directory = bytearray()
    data = bytearray()
    next_sector = 1 + dir_sectors
    for name, body, entry in programs:
        directory += name.encode().ljust(20, b"\0") + struct.pack("<3I", next_sector,
                                                                   len(body), entry)
        padded = body + bytes(-len(body) % SECTOR)
        data += padded
        next_sector += len(padded) // SECTOR
    disk = header.ljust(SECTOR, b"\0") + bytes(directory).ljust(dir_sectors * SECTOR, b"\0")
    return disk + bytes(data) + bytes(spare_sectors * SECTOR)


def load_programs(paths: list[str]) -> list[tuple[str, bytes, int]]:
    from asm.loader import is_source, read_program_bytes
    from vcpu.image import Image
    out = []
    for p in paths:
        open(p, "rb").close()           # a missing or unreadable file: the usual one-line error
        name = program_name(p)
        if is_source(p):
            image = assemble_user(p)
        else:
            image = Image.from_bytes(read_program_bytes(p), p)
        body, entry = flatten(image, p)
        out.append((name, body, entry))
    return out


# --- guest tests under the OS ---------------------------------------------------------------

_USES_USER_S = re.compile(r'^\s*\.include\s+"user\.s"', re.M | re.I)


def os_test_meta(path: Path) -> tuple[list[str], list[int]]:
    """A test's programs (itself, then those named by `; os-programs: a.s b.s`) and the CPU
    counts named by `; os-cpus: 1 4` (default 1)."""
    text = Path(path).read_text(errors="replace")
    more = []
    for m in re.finditer(r"^;\s*os-programs:(.*)$", text, re.M):
        more += [str(Path(path).parent / n) for n in m.group(1).split()]
    m = re.search(r"^;\s*os-cpus:((?:[ \t]*\d+)+)", text, re.M)
    cpus = [int(n) for n in m.group(1).split()] if m else [1]
    return [str(path)] + more, cpus


def load_os_test(path):
    """For `hv test`: a guest test that includes user.s is a user program; it runs as pid 1
    under the OS (with the first CPU count it names). None for any other file."""
    from asm.errors import AsmError
    from guesttest.discover import LoadedTest
    p = Path(path)
    if p.suffix != ".s":
        return None
    try:
        if not _USES_USER_S.search(p.read_text(errors="replace")):
            return None
        files, cpus = os_test_meta(p)
        progs = load_programs(files)
    except AsmError as e:
        return LoadedTest(p, error=str(e))
    except (ValueError, OSError) as e:
        return LoadedTest(p, error=str(e))

    def run(core, mode, max_steps):
        r = run_os(progs, hv=(mode == "hv"), core=core, cpus=cpus[0], max_steps=max_steps)
        return r.output, r.kind, r.status, r.message, r.icount

    return LoadedTest(p, run=run)


# --- running ------------------------------------------------------------------------------

class Result:
    def __init__(self, kind, status, output, message="", icount=0, stats=None):
        self.kind, self.status, self.output = kind, status, output
        self.message, self.icount, self.stats = message, icount, stats


def run_os(programs, *, hv: bool = False, core: str = "c", cpus: int = 1,
           input: bytes = b"", max_steps: int | None = None, mem: int = DEFAULT_MEM,
           verbose: bool = False, console_write=None, console_input=None,
           disk_path: str | None = None, quantum: int | None = None,
           repo: str | None = None, repo_timeout: float | None = None,
           repo_note=None, net_peer: str | None = None, net_wait: float = 30.0,
           virt: str = "trap", paging: str = "shadow") -> Result:
    """Boot the OS with `programs` (paths, or (name, bytes, entry) triples) on its disk.
    With `repo` (a directory or an http:// URL), exec fetches the programs the disk lacks."""
    from vcpu.devices import ConsoleInput
    progs = [p if isinstance(p, tuple) else None for p in programs]
    if any(p is None for p in progs):
        progs = load_programs([p for p in programs])
    disk = build_disk(progs, verbose, REPO_SPARE if repo else 0)
    attach = None
    if repo:
        from mobility.repodev import attach_repo

        def attach(platform):
            attach_repo(platform, repo, timeout=repo_timeout, note=repo_note, defer=hv)
    cin = console_input or ConsoleInput(input)
    tmp = None
    if disk_path is None:
        fd, tmp = tempfile.mkstemp(prefix="hv-os-", suffix=".img")
        os.close(fd)
        disk_path = tmp
    try:
        Path(disk_path).write_bytes(disk)
        kernel = kernel_image()
        extra = {}
        if cpus != 1:
            import inspect
            from vcpu.machine import Machine
            if "cpus" not in inspect.signature(Machine.__init__).parameters:
                raise OSError_("--cpus: this machine has one CPU (no SMP support built in)")
            extra["cpus"] = cpus
        if hv and (virt, paging) != ("trap", "shadow"):
            extra.update(virt=virt, paging=paging)
        if quantum is not None:
            extra["quantum"] = quantum
        if hv:
            return _run_hv(kernel, mem, core, console_write, cin, disk_path, max_steps, extra,
                           attach, net_peer, net_wait, progs[0][0])
        from vcpu.machine import Machine
        m = Machine(kernel, mem_size=mem, core=core, console_write=console_write,
                    console_input=cin, disk=disk_path, **extra)
        if attach:
            attach(m)
        try:
            out = m.run(max_steps)               # its disk is flushed however it ends
        except KeyboardInterrupt as e:         # a signal or --timeout (hv/guard.py)
            e.result = Result("interrupted", 0, bytes(m.output), "", m.core.slots)
            raise
        return Result(out.kind, out.status, bytes(m.output), out.message, out.icount)
    finally:
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _run_hv(kernel, mem, core, console_write, cin, disk_path, max_steps, extra, attach=None,
            net_peer=None, net_wait=30.0, net_name="os"):
    from hypervisor.host import Host, frames_needed
    from vcpu.isa import PAGE_SIZE
    host = Host(frames_needed(mem, extra.get("cpus", 1)) * PAGE_SIZE)
    vm = host.add("os", kernel, mem_size=mem, core=core,
                  console_write=(lambda vm_, data: console_write(data)) if console_write
                  else (lambda vm_, data: None),
                  console_input=cin, disk=disk_path, **extra)
    if attach:
        attach(vm)
    switch = None
    if net_peer:
        from mobility.cli import join_switch
        # The address comes from pid 1's program: two OSes running different programs differ.
        switch = join_switch(host, net_peer, net_wait, [f"os:{net_name}"])
    try:
        host.run(max_steps=max_steps)
    except KeyboardInterrupt as e:             # a signal or --timeout (hv/guard.py)
        from ..guard import stopped
        host.close(stopped(e).reason)
        e.result = Result("interrupted", 0, bytes(vm.output), vm.reason,
                          getattr(vm.core, "slots", vm.core.icount), stats=vm)
        raise
    finally:
        host.close("host stopped")          # the disk flushed even if the run loop failed
        if switch:
            switch.close()
    clock = getattr(vm.core, "slots", vm.core.icount)     # the machine's clock, as bare
    return Result(vm.stop_kind, vm.status, bytes(vm.output), vm.reason, clock, stats=vm)


# --- the command ------------------------------------------------------------------------

def register(sub) -> None:
    from ..common import add_include_arg, add_input_args, memory_size, positive_int
    p = sub.add_parser(
        "os", help="run user programs on the teaching OS (guests/os)",
        description="Assemble PROG.s (and MORE.s) with user.s on the include path, put them "
        "on the OS's disk under their base names, boot the OS (bare, or under the "
        "hypervisor with --hv) and run the first as pid 1. The console shows what the "
        "programs wrote; the exit status is pid 1's.")
    p.add_argument("programs", nargs="+", metavar="PROG.s")
    from ..common import add_smp_args
    add_smp_args(p)                     # --cpus N, --quantum Q (brief §11)
    p.add_argument("--hv", action="store_true", help="boot the OS under the hypervisor")
    p.add_argument("--virt", choices=("trap", "hw"), default="trap",
                   help="with --hv: trap-and-emulate (default) or the core's guest mode")
    p.add_argument("--paging", choices=("shadow", "nested"), default="shadow",
                   help="with --hv: shadow page tables (default) or nested paging")
    p.add_argument("--core", choices=("c", "py"), default="c",
                   help="native C core (default) or the pure-Python reference core")
    add_input_args(p)
    add_include_arg(p)
    p.add_argument("--max-steps", type=positive_int, default=None, metavar="N",
                   help="stop after N instructions (exit status 124)")
    p.add_argument("--mem", type=memory_size, default=DEFAULT_MEM, metavar="SIZE",
                   help="machine memory (default 4M; the kernel uses at most 4M)")
    p.add_argument("--os-verbose", action="store_true",
                   help="let the kernel report what it does ([os] lines)")
    p.add_argument("--stats", action="store_true",
                   help="with --hv: the hypervisor's statistics on stderr")
    from mobility.cli import add_net_peer_args, add_repo_args
    add_repo_args(p)
    add_net_peer_args(p)
    from ..guard import add_timeout_arg
    add_timeout_arg(p)
    p.add_argument("--pack", metavar="DISK",
                   help="only write the OS's disk image to DISK (the format in docs/os.md)")
    p.set_defaults(func=main)


def main(args) -> int:
    from ..common import (EXIT_CRASH, EXIT_MAX_STEPS, console_input, err, stdout_write,
                          stop_text)
    if args.cpus > 16:
        raise ValueError("--cpus: 1 to 16")
    try:
        progs = load_programs(args.programs)
        if args.pack:
            Path(args.pack).write_bytes(build_disk(progs, args.os_verbose))
            return 0
        from mobility.cli import check_repo_arg, stderr_note
        check_repo_arg(args)
        if args.net_peer and not args.hv:
            raise ValueError("--net-peer needs --hv (the network device is the hypervisor's)")
        from ..guard import StopSignals, stopped
        kernel_image()                  # assembled before --timeout's clock starts
        guard = StopSignals(args.timeout)
        stop = None
        try:
            with guard:
                res = run_os(progs, hv=args.hv, core=args.core, cpus=args.cpus,
                             quantum=args.quantum, max_steps=args.max_steps, mem=args.mem,
                             verbose=args.os_verbose, console_write=stdout_write,
                             console_input=console_input(args), repo=args.repo,
                             repo_timeout=args.repo_timeout, repo_note=stderr_note(),
                             net_peer=args.net_peer, net_wait=args.net_wait,
                             virt=args.virt, paging=args.paging)
        except KeyboardInterrupt as e:
            # SIGINT, SIGTERM, SIGHUP or --timeout: the OS stops as interrupted, its disk
            # flushed, and the report is what `hv boot` prints.
            stop = stopped(e)
            res = getattr(e, "result", None) or Result("interrupted", 0, b"", "", 0)
        finally:
            if stop is None:
                guard.restore()
    except OSError_ as e:
        raise ValueError(str(e)) from None
    if stop is not None:
        try:
            sys.stdout.flush()
            err.print(f"hv: {stop.reason} after {res.icount} instructions", markup=False,
                      soft_wrap=True)
            if args.stats and res.stats is not None:
                from ..tables import stats_table
                err.print(stats_table([res.stats]))
            return stop.status
        finally:
            guard.restore()
    sys.stdout.flush()
    if args.stats and res.stats is not None:
        from ..tables import stats_table
        err.print(stats_table([res.stats]))
    if res.kind == "poweroff":
        return res.status & 0xFF
    err.print(f"hv: {stop_text(res.message, res.icount)}", markup=False,
              soft_wrap=True)
    return EXIT_MAX_STEPS if res.kind == "max-steps" else EXIT_CRASH
