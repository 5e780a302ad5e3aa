"""Snapshots: restoring at instruction N continues exactly as the uninterrupted run did, on
either core (all four source/restore pairs), bare and under the hypervisor; a core switch in
the middle of a run changes nothing; a corrupt or foreign file is refused with one line.

Exactness is checked two ways. The *window* check restores at N, runs to N + W and compares
the complete state there (every register, control register, TLB entry, the timer, pending
interrupts, memory page by page, devices, disk, console output in between) with the state
the uninterrupted run had at N + W: cheap enough for 20+ points per guest. The *to the end*
check runs a restore to power-off and compares the console output after N, the exit status
and the final registers, through the `hv` command as a user runs it.
"""
from __future__ import annotations

import json
import random
import struct
from pathlib import Path

import pytest

from tests.hvcli import hv_proc as hv

from asm.loader import load_program
from hypervisor import snapshot as H
from hypervisor.host import Host, frames_needed
from vcpu import snapshot as S
from vcpu.cores import available_kinds
from vcpu.devices import ConsoleInput
from vcpu.machine import Machine

ROOT = Path(__file__).resolve().parent.parent
GUESTS = ROOT / "guests"
ACCEPT = ROOT.parent.parent / "shared" / "acceptance"
CORES = available_kinds()
PAIRS = [(a, b) for a in CORES for b in CORES]
WINDOW = 1500

# name -> (source, console input, memory, number of random points)
CASES = {
    "hello": (GUESTS / "hello.s", b"", 65536, 20),
    "echo": (GUESTS / "echo.s", b"hello\nvirtual world\nno newline", 65536, 20),
    "kernel": (GUESTS / "kernel.s", b"", 131072, 20),
    "sieve": (GUESTS / "sieve.s", b"", 65536, 20),
    "fib": (GUESTS / "fib.s", b"", 65536, 20),
    "timer": (GUESTS / "hostile" / "timer.s", b"", 65536, 20),
    "pt_edit": (GUESTS / "hostile" / "pt_edit.s", b"", 65536, 20),
    "dma": (GUESTS / "hostile" / "dma.s", b"", 65536, 20),
    "straddle": (GUESTS / "hostile" / "straddle.s", b"", 65536, 20),
    "bad_pte": (GUESTS / "hostile" / "bad_pte.s", b"", 65536, 20),
    "privileged": (GUESTS / "hostile" / "privileged.s", b"", 65536, 20),
    "double_fault": (GUESTS / "hostile" / "double_fault.s", b"", 65536, 20),
}
# Several CPUs (brief §11): the list of CPUs and their turns travel in the snapshot.
SMP = {"smp": 4, "shootdown": 2}
for _n, _c in SMP.items():
    if (GUESTS / f"{_n}.s").exists():
        CASES[f"{_n}-cpus{_c}"] = (GUESTS / f"{_n}.s", b"", 65536, 20, _c)
for _n in ("traps", "paging", "arith"):
    if (ACCEPT / f"{_n}.s").exists():
        CASES[_n] = (ACCEPT / f"{_n}.s", b"", 65536, 20)


# --- running with stop points --------------------------------------------------------------

class Run:
    """One run (bare or guest) with snapshots taken at chosen instruction counts."""

    def __init__(self, mode, src, core, inp, mem, max_steps=400_000, disk=None, cpus=1):
        self.mode = mode
        self.snaps: dict[int, bytes] = {}
        self.out_at: dict[int, int] = {}
        self.probe: list[tuple] = []
        self.max_steps = max_steps
        if mode == "bare":
            self.m = Machine(load_program(src), mem_size=mem, core=core,
                             console_input=ConsoleInput(inp), disk=disk, cpus=cpus)
            self.target = self.m
        else:
            self.host = Host(frames_needed(mem, cpus) * 4096)
            self.vm = self.host.add("g", load_program(src), mem_size=mem, core=core,
                                    console_input=ConsoleInput(inp), disk=disk, cpus=cpus)
            self.target = self.vm

    @property
    def output(self) -> bytes:
        return bytes(self.target.output)

    def snap_at(self, n: int) -> None:
        def take(t, n=n):
            self.snaps[n] = self.capture()
            self.out_at[n] = len(t.output)
        self.target.at(n, take)

    def capture(self) -> bytes:
        if self.mode == "bare":
            return S.capture_machine(self.m, {"max_steps": self.max_steps})
        return H.capture_guest(self.vm, {"max_steps": self.max_steps})

    def probe_at(self, n: int) -> None:
        """Record (icount, pc, status, cause, timer_next) at n, to choose special points."""
        def look(t, n=n):
            core = t.core
            cr = list(t.vcr) if self.mode == "hv" else list(core.cr)
            tn = t.vtimer_next if self.mode == "hv" else core.timer_next
            tp = t.vtimer_period if self.mode == "hv" else core.timer_period
            self.probe.append((core.slots, core.pc, cr, tn, tp))
        self.target.at(n, look)

    def run(self, max_steps=None):
        ms = self.max_steps if max_steps is None else max_steps
        if self.mode == "bare":
            o = self.m.run(ms)
            return (o.kind, o.status)
        self.host.run(max_steps=ms)
        return (self.vm.stop_kind, self.vm.status)

    def icount(self) -> int:
        return self.target.core.slots         # the machine's clock (all CPUs)


def restored(raw: bytes, core: str):
    """A Run-like object continuing the snapshot `raw` on `core`."""
    snap = S.parse(raw, "snapshot")
    r = Run.__new__(Run)
    r.snaps, r.out_at, r.probe = {}, {}, []
    r.max_steps = snap.state["params"].get("max_steps") or 400_000
    if snap.kind == "machine":
        r.mode = "bare"
        r.m = S.restore_machine(snap, core=core)
        r.target = r.m
    else:
        r.mode = "hv"
        r.host = H.new_host_for(snap.state)
        r.vm = H.restore_guest(snap, r.host, core=core)
        r.target = r.vm
    return r


def comparable(raw: bytes) -> tuple:
    """A snapshot's contents minus what may differ between equal machines (the writer's
    core and version)."""
    snap = S.parse(raw, "snapshot")
    st = dict(snap.state)
    for k in ("core", "writer", "output_bytes", "params"):
        st.pop(k, None)
    if "hv" in st:
        st["hv"] = dict(st["hv"])
        st["hv"].pop("io_tokens", None)     # the host's throttle, invisible to the guest
    return st, snap.memory, snap.disk


def choose_points(mode, src, core, inp, mem, nrandom, seed, cpus=1):
    """Random points plus: just entered a trap handler, just before / at a timer interrupt,
    right at the start, and the last instruction."""
    full = Run(mode, src, core, inp, mem, cpus=cpus)
    for n in range(0, 6000, 7):
        full.probe_at(n)
    full.run()
    total = full.icount()
    rng = random.Random(seed)
    pts = {0, max(0, total - 1)}
    pts |= {rng.randrange(total) for _ in range(nrandom)}
    for (ic, pc, cr, tn, tp) in full.probe:
        if cr[3] and 0 <= pc - cr[1] < 48 and len(pts) < nrandom + 8:   # in the handler
            pts.add(ic)
        if tp and tn > ic and len(pts) < nrandom + 12:           # the timer's next firing
            pts |= {tn - 1, tn}
    return sorted(p for p in pts if p < total), total, full


# --- the window check ----------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["bare", "hv"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_restore_equals_uninterrupted_run(name, mode):
    src, inp, mem, nrandom, *more = CASES[name]
    cpus = more[0] if more else 1
    for src_core, dst_core in PAIRS:
        pts, total, _ = choose_points(mode, src, src_core, inp, mem, nrandom,
                                      hash((name, mode, src_core)) & 0xFFFF, cpus)
        if src_core != dst_core or src_core != CORES[0]:
            pts = pts[::4]          # the other pairs sample the points
        base = Run(mode, src, src_core, inp, mem, cpus=cpus)
        for p in pts:
            base.snap_at(p)
            if p + WINDOW < total:
                base.snap_at(p + WINDOW)
        end_state = base.run()
        full_out = base.output
        for p in pts:
            r = restored(base.snaps[p], dst_core)
            q = p + WINDOW
            if q < total:
                r.snap_at(q)
                r.run(q)
                where = f"{name} {mode} {src_core}->{dst_core} at {p}"
                assert comparable(r.snaps[q]) == comparable(base.snaps[q]), where
                assert r.output == full_out[base.out_at[p]:base.out_at[q]], where
            else:
                assert r.run() == end_state
                assert r.output == full_out[base.out_at[p]:]


def test_snapshots_do_not_disturb_the_run():
    src, inp, mem, _ = CASES["kernel"]
    for mode in ("bare", "hv"):
        plain = Run(mode, src, CORES[0], inp, mem)
        plain.run()
        snapped = Run(mode, src, CORES[0], inp, mem)
        for n in range(0, 80_000, 997):
            snapped.snap_at(n)
        snapped.run()
        assert snapped.output == plain.output
        assert snapped.target.core.get_state() == plain.target.core.get_state()


def test_unread_console_input_travels_in_the_snapshot():
    src, inp, mem, _ = CASES["echo"]
    base = Run("bare", src, CORES[0], inp, mem)
    base.snap_at(40)
    base.run()
    snap = S.parse(base.snaps[40], "s")
    unread = bytes.fromhex(snap.state["devices"]["console"]["input"])
    assert 0 < len(unread) < len(inp) and inp.endswith(unread)
    r = restored(base.snaps[40], CORES[-1])
    r.run()
    assert r.output == base.output[base.out_at[40]:]


def test_piped_input_is_read_to_its_end_at_a_snapshot(tmp_path):
    f = tmp_path / "in.txt"
    f.write_bytes(b"abc\n" * 3000)           # more than one read chunk
    src = GUESTS / "echo.s"
    with open(f, "rb") as stream:
        base = Run("bare", src, CORES[0], b"", 65536, max_steps=2_000_000)
        base.m.bus.devices[0].input = ConsoleInput(stream=stream)
        base.snap_at(200)
        base.run()
    r = restored(base.snaps[200], CORES[0])
    r.run()
    assert r.output == base.output[base.out_at[200]:]
    assert base.output.endswith(b"lines: 3000, bytes: 12000\n")


def test_disk_contents_restored(tmp_path):
    disk = tmp_path / "d.img"
    disk.write_bytes(bytes(16 * 512))
    pts = [0, 50, 120, 200, 300]
    for mode in ("bare", "hv"):
        disk.write_bytes(bytes(16 * 512))
        base = Run(mode, GUESTS / "disk.s", CORES[0], b"", 65536, disk=str(disk))
        for p in pts:
            base.snap_at(p)
        end = base.run()
        after = disk.read_bytes()
        assert after != bytes(16 * 512)
        for p in pts:
            r = restored(base.snaps[p], CORES[-1])
            assert r.run() == end
            assert r.output == base.output[base.out_at[p]:]
            assert disk.read_bytes() == after


def test_switch_core_mid_run_changes_nothing():
    if len(CORES) < 2:
        pytest.skip("needs both cores")
    from hypervisor.snapshot import switch_guest_core
    from vcpu.snapshot import switch_core
    src, inp, mem, _ = CASES["kernel"]
    for mode in ("bare", "hv"):
        plain = Run(mode, src, "c", inp, mem)
        plain.run()
        sw = Run(mode, src, "c", inp, mem)
        names = []
        for n in (1, 5000, 5001, 23456, 60000):
            fn = switch_core if mode == "bare" else switch_guest_core
            sw.target.at(n, lambda t, fn=fn: names.append(fn(t)))
        sw.run()
        assert names == ["py", "c", "py", "c", "py"]
        assert sw.output == plain.output
        a, b = sw.target.core.get_state(), plain.target.core.get_state()
        assert a == b


# --- corrupt and foreign files ---------------------------------------------------------------

@pytest.fixture(scope="module")
def small_snapshot() -> bytes:
    base = Run("hv", CASES["echo"][0], CORES[0], CASES["echo"][1], 65536)
    base.snap_at(100)
    base.run()
    return base.snaps[100]


def test_every_truncation_is_refused(small_snapshot):
    raw = small_snapshot
    for n in range(len(raw)):
        with pytest.raises(S.SnapshotError):
            S.parse(raw[:n], "f")
    with pytest.raises(S.SnapshotError, match="trailing"):
        S.parse(raw + b"\0", "f")


def test_a_thousand_bit_flips_are_refused(small_snapshot):
    raw = small_snapshot
    rng = random.Random(13)
    for _ in range(1000):
        i = rng.randrange(len(raw) * 8)
        bad = bytearray(raw)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(S.SnapshotError) as e:
            S.parse(bytes(bad), "f.snap")
        msg = str(e.value)
        assert msg.startswith("f.snap: ") and "\n" not in msg


def _repack(state=None, memory=None, extra=(), version=None, isa=None):
    """A file with a *valid* checksum around hostile contents."""
    secs = [(b"STAT", json.dumps(state).encode()), (b"MEMP", memory)] + list(extra)
    raw = bytearray(S.pack(secs))
    if version is not None or isa is not None:
        struct.pack_into("<H", raw, 8, version if version is not None else S.VERSION)
        if isa is not None:
            struct.pack_into("<I", raw, 12, isa)
        raw = raw[:-8] + struct.pack("<Q", __import__("xxhash").xxh3_64_intdigest(bytes(raw[:-8])))
    return bytes(raw)


def test_hostile_contents_with_a_valid_checksum_are_refused(small_snapshot):
    snap = S.parse(small_snapshot, "s")
    st, mem = snap.state, snap.memory
    cases = {
        "version": _repack(st, mem, version=2),
        "ISA": _repack(st, mem, isa=1),
        "memory size": _repack(dict(st, mem_size=1 << 40), mem),
        "registers": _repack(dict(st, cpus=[dict(st["cpus"][0], regs=[0] * 15)]), mem),
        "cpus": _repack(dict(st, cpus=[]), mem),
        "kind": _repack(dict(st, kind="bogus"), mem),
        "memory section": _repack(st, mem[:-1]),
        "pages": _repack(st, struct.pack("<III", 4096, 16, 1) + struct.pack("<I", 99)
                         + bytes(4096)),
        "unknown section": _repack(st, mem, extra=[(b"EVIL", b"x")]),
        "not JSON": S.pack([(b"STAT", b"{nope"), (b"MEMP", mem)]),
    }
    for what, raw in cases.items():
        with pytest.raises(S.SnapshotError):
            s = S.parse(raw, "f")
            # Whatever parses must still restore cleanly or be refused.
            H.restore_guest(s, H.new_host_for(s.state))
    # A section claiming a gigantic size is refused before anything is allocated.
    raw = bytearray(small_snapshot)
    struct.pack_into("<Q", raw, S.HEADER.size + 8, 1 << 62)
    raw = raw[:-8] + struct.pack("<Q", __import__("xxhash").xxh3_64_intdigest(bytes(raw[:-8])))
    with pytest.raises(S.SnapshotError, match="impossible sizes"):
        S.parse(bytes(raw), "f")


# --- through the command line ----------------------------------------------------------------

def test_cli_snapshot_restore_info_and_switch(tmp_path):
    kernel = GUESTS / "kernel.s"
    full = hv("run", kernel, "--mem", "128K")
    assert full.returncode == 0
    a, b = tmp_path / "a.snap", tmp_path / "b.snap"
    p = hv("run", kernel, "--mem", "128K", "--snapshot-at", f"30000:{a}",
           "--snapshot-at", f"61234:{b}", "--switch-core-at", "1000")
    assert p.returncode == 0 and p.stdout == full.stdout
    info = json.loads(hv("snapshot", "info", a, "--json").stdout)
    assert info["icount"] == 30000 and info["kind"] == "machine"
    before = info["console_output_before"]
    for f, core in ((a, "py"), (b, "c")):
        r = hv("restore", f, "--core", core)
        assert r.returncode == 0
        n = json.loads(hv("snapshot", "info", f, "--json").stdout)["console_output_before"]
        assert r.stdout == full.stdout[n:]
    assert before > 0
    # A guest under the hypervisor, and its exit status.
    echo = GUESTS / "echo.s"
    g = tmp_path / "g.snap"
    full = hv("boot", echo, "--input", "one\\ntwo\\n")
    p = hv("boot", echo, "--input", "one\\ntwo\\n", "--snapshot-at", f"echo@120:{g}",
           "--switch-core-at", "60")
    assert p.stdout == full.stdout
    r = hv("restore", g)
    n = json.loads(hv("snapshot", "info", g, "--json").stdout)["console_output_before"]
    assert r.returncode == full.returncode and r.stdout == full.stdout[n:]
    # --max-steps is part of the run: the restore stops where the run stopped.
    m = tmp_path / "m.snap"
    full = hv("run", kernel, "--mem", "128K", "--max-steps", "50000")
    hv("run", kernel, "--mem", "128K", "--max-steps", "50000", "--snapshot-at", f"100:{m}")
    r = hv("restore", m)
    assert full.returncode == r.returncode == 124


def test_cli_refuses_corrupt_files(tmp_path):
    g = tmp_path / "g.snap"
    hv("run", GUESTS / "hello.s", "--snapshot-at", f"10:{g}")
    raw = bytearray(g.read_bytes())
    raw[len(raw) // 2] ^= 4
    bad = tmp_path / "bad.snap"
    bad.write_bytes(bytes(raw))
    short = tmp_path / "short.snap"
    short.write_bytes(g.read_bytes()[:37])
    for f, why in ((bad, "checksum"), (short, "truncated"), (GUESTS / "hello.s", "magic"),
                   (tmp_path / "none.snap", "no such file")):
        for cmd in (("restore", f), ("snapshot", "info", f)):
            p = hv(*cmd)
            lines = p.stderr.decode().strip().splitlines()
            assert p.returncode == 2 and len(lines) == 1 and why in lines[0], (cmd, p.stderr)
            assert p.stdout == b""


def test_mutated_state_with_a_valid_checksum_never_crashes():
    """A crafted file (valid checksum, state fields of the wrong type or size) is refused with
    a SnapshotError or restores into a machine that runs: never another exception."""
    rng = random.Random(5)
    junk = [None, -1, 1 << 70, "x", [], {}, 1.5, True, [1, 2], {"a": 1}, 0, 2 ** 32]

    def mutate(obj, depth=0):
        if isinstance(obj, (dict, list)) and obj:
            k = rng.choice(list(obj)) if isinstance(obj, dict) else rng.randrange(len(obj))
            if rng.random() < 0.4 or depth > 3:
                obj[k] = rng.choice(junk)
            else:
                mutate(obj[k], depth + 1)
    for mode in ("bare", "hv"):
        base = Run(mode, GUESTS / "echo.s", CORES[0], b"abc\n", 65536)
        base.snap_at(50)
        base.run()
        snap = S.parse(base.snaps[50], "s")
        for _ in range(150):
            st = json.loads(json.dumps(snap.state))
            for _ in range(rng.randrange(1, 3)):
                mutate(st)
            raw = S.pack([(b"STAT", json.dumps(st).encode()), (b"MEMP", snap.memory)])
            try:
                r = restored(raw, rng.choice(CORES))
            except S.SnapshotError:
                continue
            r.run(r.icount() + 2000)
