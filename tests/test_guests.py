"""The sample guests in guests/: each one prints exactly guests/expected/NAME.out.

They run through the public command line (`hv.cli.main`, in-process; tests/test_cli.py
runs `python -m hv` as a process), as a user would run them: on the bare machine with both
cores, and under the hypervisor, where the same image must give the same console output
and exit status. The disk demo also leaves known bytes
in its disk file, and every guest survives assemble -> disassemble -> assemble unchanged.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.hvcli import Result, hv

ROOT = Path(__file__).resolve().parent.parent
GUESTS = ROOT / "guests"
EXPECTED = GUESTS / "expected"

SECTOR = 512

# name -> (extra arguments, expected-output file, instruction budget). The budget, passed
# as --max-steps, keeps each guest honest about its size: a guest that ran away, or grew
# well past what it needs, stops with status 124 instead of passing slowly.
CASES = {
    "hello": ([], "hello.out", 1_000),
    "fib": ([], "fib.out", 200_000),
    "sieve": ([], "sieve.out", 50_000),
    "echo": (["--input", r"hello\nvirtual world\nno newline at the end"], "echo.out", 5_000),
    "disk-nodisk": ([], "disk-nodisk.out", 5_000),
    "kernel": ([], "kernel.out", 200_000),          # the README's sample: default memory
    "dirty": (["--mem", "1M"], "dirty.out", 500_000),
    # several CPUs (brief §11): the locked results are the same for every quantum; the
    # unlocked counter and the ping-pong cost are those of the given quantum
    "smp": (["--cpus", "4"], "smp.out", 150_000),
    "smp-q7": (["--cpus", "4", "--quantum", "7"], "smp-q7.out", 150_000),
    "shootdown": (["--cpus", "2"], "shootdown.out", 20_000),
}


def _native_available() -> bool:
    try:
        from vcpu.cores import native_available
    except ImportError:
        return False
    return native_available()


CORES = ["py", pytest.param("c", marks=pytest.mark.skipif(
    not _native_available(), reason="the native core (vcpu._core) is not built"))]


def source(name: str) -> str:
    return str(GUESTS / (name.split("-")[0] + ".s"))


def expected(filename: str) -> str:
    return (EXPECTED / filename).read_text()


def check(proc: Result, want: str, status: int = 0) -> None:
    out = proc.stdout.decode("latin-1")
    assert out == want, f"console output differs; stderr:\n{proc.stderr.decode()}"
    assert proc.returncode == status, proc.stderr.decode()


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_guest_on_the_bare_machine(name, core):
    args, out, budget = CASES[name]
    proc = hv("run", source(name), *args, "--core", core, "--max-steps", str(budget))
    check(proc, expected(out))


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_guest_under_the_hypervisor_prints_the_same(name, core):
    # Popek and Goldberg's equivalence: the unmodified image, with the guest kernel in
    # real user mode and every privileged instruction trapped and emulated.
    args, out, _ = CASES[name]
    check(hv("boot", source(name), *args, "--core", core), expected(out))


# --- the disk demo ----------------------------------------------------------------------

MESSAGE = b"Hello, disk! These bytes went to sector 1 by DMA.\n"


def counter_sector(runs: int) -> bytes:
    return (b"HVDK" + runs.to_bytes(4, "little")).ljust(SECTOR, b"\0")


@pytest.mark.parametrize("core", CORES)
def test_disk_writes_the_sectors_and_counts_its_runs(tmp_path, core):
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(16 * SECTOR))

    check(hv("run", source("disk"), "--disk", str(disk), "--core", core), expected("disk.out"))
    data = disk.read_bytes()
    assert len(data) == 16 * SECTOR
    assert data[:SECTOR] == counter_sector(1)
    assert data[SECTOR:2 * SECTOR] == MESSAGE.ljust(SECTOR, b"\0")
    assert data[2 * SECTOR:] == bytes(14 * SECTOR)

    # The counter lives in the file: a second run finds it and counts on.
    check(hv("run", source("disk"), "--disk", str(disk), "--core", core),
          expected("disk-again.out"))
    assert disk.read_bytes()[:SECTOR] == counter_sector(2)


def test_disk_under_the_hypervisor(tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(16 * SECTOR))
    check(hv("boot", source("disk"), "--disk", str(disk)), expected("disk.out"))
    assert disk.read_bytes()[:2 * SECTOR] == counter_sector(1) + MESSAGE.ljust(SECTOR, b"\0")


def test_disk_too_small_is_reported(tmp_path):
    disk = tmp_path / "empty.img"
    disk.write_bytes(b"")
    proc = hv("run", source("disk"), "--disk", str(disk))
    check(proc, "the disk is too small: it needs at least 2 sectors (1024 bytes)\n", status=1)


# --- the kernel -------------------------------------------------------------------------

def test_kernel_output_shows_every_trap_path():
    # Guard the teaching claims in kernel.s against a future edit of the expected output.
    out = expected("kernel.out")
    for needle in ("breakpoint at pc", "killed: privileged instruction",
                   "killed: page fault on read", "killed: divide by zero",
                   "page fault on write at 0x0000e000: mapped frame",
                   "write() of kernel memory returned -1", "system call 99 returned -1",
                   "exited with code 0", "[task 1] hello (pid 1)", "powering off"):
        assert needle in out, needle
    idle = int(out.rsplit(" times idle", 1)[0].rsplit(" ", 1)[1])
    assert idle > 0, "the idle loop (wfi) never ran"


def test_kernel_fits_the_default_memory_and_says_when_it_does_not():
    # The default 64 KiB is enough (test_guest_on_the_bare_machine runs it so); below it
    # the image itself does not fit (the user program sits at 0xc000)...
    proc = hv("run", source("kernel"), "--mem", "48K")
    assert proc.returncode == 2 and b"--mem" in proc.stderr
    # ...and with room for the image but not for the frame pool, the kernel says so.
    check(hv("run", source("kernel"), "--mem", "60K"),
          "[kernel] this kernel needs 64 KiB of memory: run it with --mem 64K\n", status=1)


def test_echo_without_input():
    check(hv("run", source("echo"), "--input", ""), "lines: 0, bytes: 0\n")


# --- assemble -> disassemble -> assemble ------------------------------------------------

PROGRAMS = sorted(p.name for p in GUESTS.glob("*.s"))


@pytest.mark.parametrize("name", PROGRAMS)
def test_round_trip_through_the_disassembler(name):
    disasm = pytest.importorskip("asm.disasm")
    from asm.assembler import assemble, assemble_file
    image = assemble_file(GUESTS / name)
    again = assemble(disasm.disassemble(image), "roundtrip.s")
    assert again.entry == image.entry
    assert again.segments == image.segments


def test_every_guest_has_a_readme_line_and_a_test():
    readme = (GUESTS / "README.md").read_text()
    for name in PROGRAMS:
        assert f"guests/{name}" in readme, name
        assert name.removesuffix(".s") in {n.split("-")[0] for n in CASES}, name


def test_hostile_guests_share_their_common_blocks():
    """The identity map, the fault report and the disk routines are written once, in
    guests/lib/, not copied into each hostile guest (their expected outputs are checked in
    tests/test_isolation.py)."""
    hostile = GUESTS / "hostile"
    for name in ("bad_pte", "pt_edit", "straddle", "dma", "frame_sweep"):
        text = (hostile / f"{name}.s").read_text()
        assert "IDENTITY_MAP PT_LOW" in text and "\nident:" not in text, name
    for name in ("bad_pte", "pt_edit"):
        text = (hostile / f"{name}.s").read_text()
        assert '.include "../lib/fault.s"' in text and "\non_fault:" not in text, name
    for name in ("dma", "disk_wrap"):
        text = (hostile / f"{name}.s").read_text()
        assert '.include "../lib/disk.s"' in text and "\ncs_loop:" not in text, name
    for name in ("bad_pte", "pt_edit", "straddle", "dma", "frame_sweep", "tlb_storm"):
        assert "PAGING_ON PDIR" in (hostile / f"{name}.s").read_text(), name
    for name in ("bad_ptbr", "double_fault", "evec_outside", "no_handler", "spin"):
        text = (hostile / f"{name}.s").read_text()
        assert "    PRINT msg" in text and "\nprint:" not in text, name
