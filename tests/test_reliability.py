"""Nothing lost, nothing unbounded: disks, console input and output, and faults that stay
with one guest. Each test reproduces a failure found in an audit of bad inputs and hostile
guests (docs/reliability.md lists them with what the user sees)."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from asm.assembler import assemble
from hypervisor.host import Host, frames_needed
from vcpu import devices
from vcpu.devices import ConsoleInput, Disk, DiskError
from vcpu.machine import Machine

ROOT = Path(__file__).resolve().parent.parent
MEM = 65536
SECTOR = 512


def peak_rss_kib(code: str, *, stdin=None, timeout=120) -> tuple[int, str]:
    """Run `code` in a fresh interpreter; its peak RSS in KiB and its stdout."""
    script = textwrap.dedent(code) + textwrap.dedent("""
        import resource, sys
        sys.stdout.flush()
        print("\\nPEAK", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    p = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                       timeout=timeout, stdin=stdin)
    assert p.returncode == 0, p.stderr.decode()
    out = p.stdout.decode()
    return int(out.rsplit("PEAK", 1)[1]), out


def baseline_rss_kib() -> int:
    return peak_rss_kib("import hypervisor.host, vcpu.machine, asm.assembler")[0]


# A guest that writes sector `n` with a pattern, optionally flushes, and powers off with the
# disk's last status (0 = ok, 5 = host I/O error).
def writer(pattern: int = 0xAB, flush: bool = True, sector: int = 0, then_spin: bool = False):
    text = f"""
        li r1, buf
        li r2, 0x{pattern:02x}
        li r3, 0
    fill:
        add r4, r1, r3
        stb r2, [r4]
        add r3, r3, 1
        li r5, 512
        blt r3, r5, fill
        li r1, {sector}
        out 0x30, r1
        li r1, buf
        out 0x31, r1
        li r1, 1
        out 0x32, r1
        li r1, 2
        out 0x33, r1
        in r6, 0x33
        bne r6, r0, done
        {"li r1, 3" if flush else "nop"}
        {"out 0x33, r1" if flush else "nop"}
        in r6, 0x33
    done:
        {"spin: jmp spin" if then_spin else ""}
        out 0xff, r6
    .align 4
    buf: .space 512
    """
    return assemble(textwrap.dedent(text), "writer.s")


def image_file(tmp_path, name="d.img", sectors=4) -> str:
    p = tmp_path / name
    p.write_bytes(bytes(sectors * SECTOR))
    return str(p)


# --- 1. data loss ----------------------------------------------------------------------

def test_a_write_is_on_the_file_when_the_command_completes(tmp_path):
    """Acknowledged writes reach the file itself, not a copy in memory (SIGKILL-safe)."""
    disk = image_file(tmp_path)
    host = Host(frames_needed(MEM) * 4096)
    vm = host.add("w", writer(0x5A, flush=False, then_spin=True), mem_size=MEM, disk=disk)
    host.run(max_steps=20_000)          # the guest spins after the write: never stopped cleanly
    assert Path(disk).read_bytes()[:SECTOR] == b"\x5a" * SECTOR
    assert vm.stop_kind == "max-steps"


def test_flush_and_stop_fsync_the_image(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(devices.os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    disk = image_file(tmp_path)
    m = Machine(writer(flush=True), mem_size=MEM, disk=disk)
    assert m.run(20_000).status == 0
    assert len(synced) == 1            # the guest's flush (nothing dirty left at the stop)
    synced.clear()
    m = Machine(writer(flush=False), mem_size=MEM, disk=disk)
    assert m.run(20_000).status == 0
    assert len(synced) == 1            # the stop


def test_a_sparse_3g_image_is_not_read_into_memory(tmp_path):
    big = tmp_path / "big.img"
    with open(big, "wb") as f:
        f.truncate(3 << 30)
    rss, out = peak_rss_kib(f"""
        from vcpu.machine import Machine
        from asm.assembler import assemble
        img = assemble('''
            in r1, 0x34
            sub r1, r1, 1
            out 0x30, r1
            li r1, 0x8000
            out 0x31, r1
            li r1, 1
            out 0x32, r1
            out 0x33, r1
            in r1, 0x33
            out 0xff, r1
        ''', "last.s")
        m = Machine(img, mem_size=65536, disk={str(big)!r})
        print("STATUS", m.run(1000).status, m.bus.devices[3].sectors)
    """)
    assert f"STATUS 0 {(3 << 30) // SECTOR}" in out
    assert rss < baseline_rss_kib() + 50_000


def test_an_image_attached_twice_is_refused(tmp_path):
    disk = image_file(tmp_path)
    first = Disk(None, disk)
    with pytest.raises(DiskError, match="in use"):
        Disk(None, disk)
    first.close()
    Disk(None, disk).close()             # free again once detached


def test_an_image_that_cannot_be_written_is_refused_at_attach(tmp_path, monkeypatch):
    disk = image_file(tmp_path)

    def denied(path, mode="r", **kw):
        raise PermissionError(errno.EACCES, "Permission denied", path)
    monkeypatch.setattr(devices, "_open_rw", denied)
    with pytest.raises(DiskError, match="cannot be opened for writing"):
        Disk(None, disk)


def test_a_write_error_fails_that_request_only(tmp_path, monkeypatch):
    """ENOSPC on one guest's write: that request gets status 5; the neighbour's write lands."""
    good, bad = image_file(tmp_path, "good.img"), image_file(tmp_path, "bad.img")
    real = os.pwrite
    bad_fds = set()

    def pwrite(fd, data, off):
        if fd in bad_fds:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data, off)
    monkeypatch.setattr(devices.os, "pwrite", pwrite)
    host = Host(2 * frames_needed(MEM) * 4096)
    a = host.add("a", writer(0x11), mem_size=MEM, disk=good)
    b = host.add("b", writer(0x22), mem_size=MEM, disk=bad)
    bad_fds.add(b.bus.devices[3].file.fileno())
    host.run(max_steps=50_000)
    assert (a.stop_kind, a.status) == ("poweroff", 0)
    assert (b.stop_kind, b.status) == ("poweroff", Disk.IO_ERROR)
    assert "No space left" in b.bus.devices[3].error
    assert Path(good).read_bytes()[:SECTOR] == b"\x11" * SECTOR


def test_a_flush_error_fails_that_request_only(tmp_path, monkeypatch):
    good, bad = image_file(tmp_path, "good.img"), image_file(tmp_path, "bad.img")
    real = os.fsync
    bad_fds = set()

    def fsync(fd):
        if fd in bad_fds:
            raise OSError(errno.EIO, "Input/output error")
        return real(fd)
    monkeypatch.setattr(devices.os, "fsync", fsync)
    host = Host(2 * frames_needed(MEM) * 4096)
    a = host.add("a", writer(0x11), mem_size=MEM, disk=good)
    b = host.add("b", writer(0x22), mem_size=MEM, disk=bad)
    bad_fds.add(b.bus.devices[3].file.fileno())
    host.run(max_steps=50_000)
    assert (a.status, b.status) == (0, Disk.IO_ERROR)
    assert b.state == "stopped"


# --- 4. bounded memory -----------------------------------------------------------------

def test_console_input_is_read_lazily():
    """A stream is read a chunk at a time as the guest asks: never to its end first."""
    import io

    class Endless(io.RawIOBase):
        reads = 0

        def readable(self):
            return True

        def readinto(self, b):
            Endless.reads += 1
            b[:] = b"y" * len(b)
            return len(b)
    cin = ConsoleInput(stream=io.BufferedReader(Endless()))
    assert [cin.next_byte() for _ in range(3)] == [ord("y")] * 3
    assert Endless.reads <= 2


def test_an_endless_pipe_does_not_hold_back_the_guest():
    """`yes | hv run hello.s` prints and exits; so does `sleep 30 | hv run hello.s`."""
    yes = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    try:
        p = subprocess.run([sys.executable, "-m", "hv", "run", "guests/hello.s"],
                           cwd=ROOT, stdin=yes.stdout, capture_output=True, timeout=60)
    finally:
        yes.kill()
        yes.wait()
    assert p.returncode == 0 and b"Hello" in p.stdout
    r, w = os.pipe()                     # a pipe that stays open and silent
    try:
        p = subprocess.run([sys.executable, "-m", "hv", "run", "guests/hello.s"],
                           cwd=ROOT, stdin=r, capture_output=True, timeout=60)
    finally:
        os.close(r)
        os.close(w)
    assert p.returncode == 0 and b"Hello" in p.stdout


def test_console_output_kept_by_the_host_is_bounded(monkeypatch):
    monkeypatch.setattr(devices.OutputTail, "KEEP", 1000)
    flood = assemble("li r1, 65\nloop: out 0x10, r1\njmp loop\n", "flood.s")
    m = Machine(flood, mem_size=MEM, console_write=lambda b: None)
    m.run(60_000)
    assert m.output.total == 30_000
    assert len(m.output) <= 2000 and m.output.truncated and m.output.endswith(b"AAA")
    host = Host(frames_needed(MEM) * 4096)
    vm = host.add("f", flood, mem_size=MEM)
    host.run(max_steps=60_000)
    assert vm.output.total == 30_000 and len(vm.output) <= 2000


def _hv_peak_rss_kib(*args) -> int:
    p = subprocess.Popen([sys.executable, "-m", "hv", *map(str, args)], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 124, p.stderr.read().decode()
    return ru.ru_maxrss


@pytest.mark.parametrize("trace", ["t.json", "t.jsonl"])
def test_a_traced_flood_runs_in_bounded_memory(tmp_path, trace):
    """Four times the events cost no more memory: the trace streams to its file (which ends
    as valid JSON), the console keeps a bounded tail."""
    import json
    path = tmp_path / trace
    short = _hv_peak_rss_kib("boot", "guests/hostile/flood.s", "--max-steps", "60000",
                             "--trace", path)
    long = _hv_peak_rss_kib("boot", "guests/hostile/flood.s", "--max-steps", "240000",
                            "--trace", path)
    assert long < short + 8_000, (short, long)
    if trace.endswith(".json"):
        events = json.loads(path.read_text())["traceEvents"]
        assert len(events) > 80_000


def test_a_single_guest_on_a_terminal_has_its_controls_shown():
    from types import SimpleNamespace

    from hv.console import SharedConsole
    out = []
    c = SharedConsole(out.append, None, multi=False, escape=True)
    c.register("g")
    c.write(SimpleNamespace(name="g"), b"\x1b[2K\rA\tB\x7f\n")
    assert b"".join(out) == b"^[[2K^MA\tB^?\n"
    raw = []
    c = SharedConsole(raw.append, None, multi=False, escape=False)     # piped, or --raw-console
    c.register("g")
    c.write(SimpleNamespace(name="g"), b"\x1b[2K\n")
    assert b"".join(raw) == b"\x1b[2K\n"
