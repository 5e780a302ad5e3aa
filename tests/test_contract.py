"""The brief's fixed contract, checked from the outside.

Every program under tests/contract/ was written from the brief alone (§2 assembly and
architecture, §8 command surface, §9 user ABI and `hv os`, §11 SMP, §12 debugger launch
surface), and its expected output below was predicted from the brief's text, not taken
from a run. They are regression tests for that contract: a change that breaks one breaks
a promise the brief makes to users.
"""
from __future__ import annotations

import pytest

from tests.conftest import native_available
from tests.hvcli import ROOT, hv

C = ROOT / "tests" / "contract"
OS = C / "os"
CORES = ["c", "py"] if native_available() else ["py"]


def out_of(*args, status=0, input=b""):
    r = hv(*args, input=input)
    assert r.status == status, (r.status, r.out, r.err)
    return r.out


# --- §9: the user ABI and `hv os` --------------------------------------------------------

SYSRET = """\
getpid 1
hello
write 6
write0 0
write-bad -5
read-empty 0
exec-missing -2
exec-bad -5
wait-any -3
wait-self -3
join-none -3
yield 0
sleep 0
clock advances
futex-wait-differs -1
futex-wake-none 0
futex-wait-bad -5
sbrk-old 0
sbrk-grew 8192
sbrk-rw 0
sbrk-huge -4
"""

_SYS = ["getpid", "gettid", "yield", "clock", "sbrk", "sleep", "write", "read", "exec",
        "join", "futex_wait", "futex_wake", "wait", "badcall"]
_FN = [("puts", "."), ("print_dec", "4294967295"), ("print_hex", "deadbeef"),
       ("mutex_lock", ""), ("mutex_unlock", ""), ("uthread_yield", ""), ("getpid", ""),
       ("write", ".")]
REGS = "".join(("." if n == "write" else "") + f" sys {n} preserves\n" for n in _SYS) + \
    "".join(f"{p} {n} preserves\n" for n, p in _FN)

PROCS = """\
child runs
wait-pid-diff 0
wait-status 7
wait-again -3
parent-sees 5
status-sum 36
wait-none -3
prog2 here
exec-status 5
fault-status 136
fault-status 131
fault-status 133
fault-status 134
fault-status 135
fault-status 133
fault-status 134
parent alive
"""

THREADS = """\
entry-return 42
join-again -3
thread-exit 77
gettid-diff 0
tids differ
wake-2 2
wake-10 1
woken-with-0 3
counter 600
mutex-word 0
exit-status 9
64 threads
thread-limit -4
"""

FORMATS = """\
tab\there \\ "q" AB
0
10
2147483648
4294967295
deadbeef
00000abc
00000000
[hello, world
]
read-total 13
read-after 0
"""

LIMITS = "16 processes\nfork-limit -4\nsbrk-huge -4\n"

UTHREADS = "ids differ\njoin-1 10\njoin-2 20\nsum 9\nsame-kernel-thread 6\n"

OS_CASES = {
    "sysret": (["sysret.s"], SYSRET, 0, ""),
    "regs": (["regs.s"], REGS, 0, ""),
    "procs": (["procs.s", "sub/prog2.s"], PROCS, 42, ""),
    "threads": (["threads.s"], THREADS, 0, ""),
    "formats": (["formats.s"], FORMATS, 3, "hello, world\\n"),
    "limits": (["limits.s"], LIMITS, 0, ""),
    "uthreads": (["uthreads.s"], UTHREADS, 0, ""),
    "hostile": (["hostile.s"], "read-bad -5\npid 1 alive\n", 0, ""),
    "image": (["image.s"], "code-rw 0\ndata 22\narea 99\n", 0, ""),
    "divzero": (["divzero.s"], "", 136, ""),
    "blocking": (["blocking.s"], "main ran while its sibling slept\nstamps-inside-sleep 0\n", 0,
                 ""),
}


@pytest.mark.parametrize("name", sorted(OS_CASES))
def test_os_program(name):
    progs, want, status, inp = OS_CASES[name]
    args = ["os", *(OS / p for p in progs)]
    if inp:
        args += ["--input", inp]
    assert out_of(*args, status=status) == want


@pytest.mark.parametrize("name", ["sysret", "procs", "threads", "formats", "hostile"])
def test_os_program_under_hypervisor(name):
    progs, want, status, inp = OS_CASES[name]
    args = ["os", "--hv", *(OS / p for p in progs)]
    if inp:
        args += ["--input", inp]
    assert out_of(*args, status=status) == want


@pytest.mark.parametrize("name", ["sysret", "procs", "formats"])
def test_os_program_reference_core(name):
    progs, want, status, inp = OS_CASES[name]
    args = ["os", "--core", "py", *(OS / p for p in progs)]
    if inp:
        args += ["--input", inp]
    assert out_of(*args, status=status) == want


@pytest.mark.parametrize("hv_flag", [[], ["--hv"]])
def test_os_program_several_cpus(hv_flag):
    for name in ("sysret", "procs", "threads", "limits", "hostile", "uthreads"):
        progs, want, status, _ = OS_CASES[name]
        r = hv("os", "--cpus", "3", *hv_flag, *(OS / p for p in progs))
        assert (r.status, r.out) == (status, want), name


def test_os_max_steps_stops_a_runaway_pid1():
    r = hv("os", "--max-steps", "200000", OS / "spin.s")
    assert r.status == 124
    assert r.out == "spinning\n"


def test_os_base_names_and_several_programs():
    # `sub/pidof.s` is `pidof` on the disk; exec keeps the pid
    assert out_of("os", OS / "execer.s", OS / "sub" / "prog2.s", OS / "sub" / "pidof.s",
                  OS / "spin.s", status=6) == "pid 1\n"


# --- §2: the assembly surface and the architectural details ------------------------------

ASM = C / "asm"

BARE = {   # program: (extra args, exact console output, exit status)
    "exprs.s": ([], "5\n7\n7\n9\n4\n5\n2\n8\n243\n7\n240\n4294967295\n91\n16\n249\n11\n"
                    "10 9 92 34 39 0 65 127 255 122 0 \n1\n65536\n", 0),
    "vec0.s": ([], "1 42 s\n2 0 b\n8 0 d\n", 7),
    "ujump.s": ([], "3 y 1\n", 0),
    "timer.s": ([], "16 y 25\n", 0),
    "bootstate.s": (["--mem", "128K"], "0 1 00020000 0 0\n1\n5 00020000\n6 00020004\n"
                                       "7 7ffffff0\n", 0),
    "pgrights.s": ([], "12345678\n6 00401000\n6 00800000\n5 00402000\n5 00c00123\n"
                       "7 00c00ff0\n5 00400000\n6 00800000\n12345678\n", 0),
    "retire.s": ([], "yyy\n", 0),
    "data.s": ([], "255\n12340001\n0000fffe\n0\n10\nfffffffe\n97\n4\n0000abcd\n0\n0\n", 0),
    "evecself.s": ([], "x", 125),
    "wfistop.s": ([], "w", 125),
}


@pytest.mark.parametrize("mode", ["run", "boot"])
@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("prog", sorted(BARE))
def test_bare_program(prog, core, mode):
    extra, want, status = BARE[prog]
    r = hv(mode, "--core", core, *extra, ASM / prog)
    assert (r.status, r.out) == (status, want), r.err
    if status == 125:                       # stopped with a clear message: one line
        assert len(r.err.strip().splitlines()) == 1 and r.err.strip()


def test_include_relative_to_including_file_then_include_path(tmp_path):
    want = "a\nsub/b\nincdir\n"
    assert out_of("run", "-I", ASM / "incdir", ASM / "include.s") == want
    assert out_of("boot", "-I", ASM / "incdir", ASM / "include.s") == want
    img = tmp_path / "inc.img"
    r = hv("asm", "-I", ASM / "incdir", ASM / "include.s", "-o", img)
    assert r.status == 0, r.err
    assert out_of("run", img) == want
    # without -I the file is not found: file:line:col of the .include
    r = hv("run", ASM / "include.s")
    assert r.status == 1 and "include.s:4:10:" in r.err and "only_in_incdir.s" in r.err


def test_asm_errors_point_at_file_line_col_and_suggest(tmp_path):
    r = hv("asm", ASM / "typo.s", "-o", tmp_path / "t.img")
    assert r.status == 1
    lines = r.err.splitlines()
    i = next(n for n, l in enumerate(lines) if "typo.s:4:5:" in l)
    assert "'li'" in lines[i] and lines[i + 1].strip() == "lii  r1, 5"
    assert lines[i + 2].index("^") == lines[i + 1].index("lii")
    j = next(n for n, l in enumerate(lines) if "typo.s:5:14:" in l)
    assert "'start'" in lines[j] and lines[j + 2].index("^") == lines[j + 1].index("strat")


# --- §8: snapshots, restore, core switching, live migration, monitor ---------------------

MOB = C / "mob"
ALPHA = "ABCDEFGHIJKLMNOPQRSTUVWXYZ\n"     # alpha.s: after 2 + 3k instructions, k letters


@pytest.mark.parametrize("core", CORES)
def test_snapshot_then_restore_prints_exactly_the_rest(tmp_path, core):
    snap = tmp_path / "a.snap"
    assert out_of("run", "--core", core, MOB / "alpha.s", "--snapshot-at", f"11:{snap}",
                  status=3) == ALPHA
    for c in CORES:
        assert out_of("restore", snap, "--core", c, status=3) == ALPHA[3:]
    r = hv("snapshot", "info", snap)
    assert r.status == 0 and r.out.strip()


@pytest.mark.parametrize("mode", ["run", "boot"])
def test_snapshot_keeps_the_unread_console_input(tmp_path, mode):
    # echo.s: after 3 + 6k instructions it has echoed k bytes
    snap = tmp_path / "e.snap"
    assert out_of(mode, MOB / "echo.s", "--input", "hello", "--snapshot-at", f"15:{snap}",
                  status=5) == "[hello]"
    assert out_of("restore", snap, status=5) == "llo]"


def test_snapshot_of_a_guest_by_name_and_alone(tmp_path):
    one, two, three = tmp_path / "1.snap", tmp_path / "2.snap", tmp_path / "3.snap"
    assert out_of("boot", f"{MOB / 'alpha.s'}:name=g", "--snapshot-at", f"g@5:{one}",
                  "--snapshot-at", f"20:{two}", status=3) == ALPHA
    assert out_of("restore", one, status=3) == ALPHA[1:]
    assert out_of("restore", two, status=3) == ALPHA[6:]
    assert out_of("run", MOB / "alpha.s", "--snapshot-at", f"2:{three}", status=3) == ALPHA
    assert out_of("restore", three, "--max-steps", "1000", status=3) == ALPHA


def test_snapshot_corrupt_is_refused_in_one_line(tmp_path):
    snap = tmp_path / "a.snap"
    out_of("run", MOB / "alpha.s", "--snapshot-at", f"11:{snap}", status=3)
    data = bytearray(snap.read_bytes())
    data[len(data) // 2] ^= 0x55
    snap.write_bytes(bytes(data))
    for args in (["restore", snap], ["snapshot", "info", snap]):
        r = hv(*args)
        assert r.status != 0 and len(r.err.strip().splitlines()) == 1, r.err


@pytest.mark.parametrize("mode", ["run", "boot"])
def test_switch_core_at(mode):
    if len(CORES) < 2:
        pytest.skip("needs both cores")
    assert out_of(mode, MOB / "alpha.s", "--switch-core-at", "11", "--switch-core-at", "30",
                  status=3) == ALPHA


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_live_migration_outputs_concatenate_to_the_uninterrupted_run():
    import subprocess
    import sys
    port = _free_port()
    dst = subprocess.Popen([sys.executable, "-m", "hv", "boot", "--incoming",
                            f"tcp:127.0.0.1:{port}"], cwd=ROOT, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        src = hv("boot", MOB / "alpha.s", "--migrate-at", f"11:tcp:127.0.0.1:{port}")
        out, err = dst.communicate(timeout=60)
    finally:
        dst.kill()
    assert "Traceback" not in err.decode()
    assert src.out + out.decode() == ALPHA
    assert dst.returncode == 3


def test_heterogeneous_live_migration_to_the_reference_core():
    import subprocess
    import sys
    port = _free_port()
    dst = subprocess.Popen([sys.executable, "-m", "hv", "boot", "--incoming",
                            f"tcp:127.0.0.1:{port}", "--core", "py"], cwd=ROOT,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    try:
        src = hv("boot", "--core", CORES[0], f"{MOB / 'slow.s'}:name=s", "--migrate-at",
                 f"s@7600000:tcp:127.0.0.1:{port}")
        out, err = dst.communicate(timeout=60)
    finally:
        dst.kill()
    assert "Traceback" not in err.decode()
    assert src.out + out.decode() == "." * 40 + "\n"
    assert src.out.count(".") >= 38         # the 38th dot by instruction 7471293
    assert dst.returncode == 4


def test_failed_migration_leaves_the_source_finishing_the_run():
    import socket
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def slam():                     # a "destination" that hangs up at once
        try:
            c, _ = srv.accept()
            c.close()
        except OSError:
            pass
    t = threading.Thread(target=slam, daemon=True)
    t.start()
    try:
        r = hv("boot", MOB / "alpha.s", "--migrate-at", f"11:tcp:127.0.0.1:{port}")
    finally:
        srv.close()
    assert (r.status, r.out) == (3, ALPHA)
    assert len(r.err.strip().splitlines()) == 1, r.err


def test_monitor_stop_query_snapshot_cont_quit(tmp_path):
    import json
    import subprocess
    import sys
    import time
    sock = tmp_path / "mon.sock"
    snap = tmp_path / "m.snap"
    # slow.s: the k-th dot (k = 0..39) is printed by instruction 196613 k + 196612
    boot = subprocess.Popen([sys.executable, "-m", "hv", "boot", MOB / "slow.s", "--core", "py",
                             "--monitor", f"unix:{sock}"], cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            if sock.exists():
                break
            time.sleep(0.05)
        r = hv("monitor", sock, "stop")
        assert r.status == 0 and json.loads(r.out) == {"return": {}}
        st = json.loads(hv("monitor", sock, "query-status").out)["return"]
        assert st["running"] is False and st["status"] == "paused"
        r = hv("monitor", sock, "snapshot", snap)
        assert r.status == 0, r.err
        icount = json.loads(r.out)["return"]["icount"]
        assert json.loads(hv("monitor", sock, "cont").out) == {"return": {}}
        st = json.loads(hv("monitor", sock, "query-status").out)["return"]
        assert st["running"] is True and st["status"] == "running"
        assert hv("monitor", sock, "quit").status == 0
        boot.communicate(timeout=60)
    finally:
        boot.kill()
    done = sum(1 for k in range(40) if 196613 * k + 196612 <= icount)
    assert out_of("restore", snap, "--core", CORES[0], status=4) == "." * (40 - done) + "\n"


def test_monitor_migrate_and_query_migrate(tmp_path):
    import json
    import subprocess
    import sys
    import time
    sock = tmp_path / "mon.sock"
    port = _free_port()
    dst = subprocess.Popen([sys.executable, "-m", "hv", "boot", "--incoming",
                            f"tcp:127.0.0.1:{port}", "--core", CORES[0]], cwd=ROOT,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    src = subprocess.Popen([sys.executable, "-m", "hv", "boot", MOB / "slow.s", "--core", "py",
                            "--monitor", f"unix:{sock}"], cwd=ROOT, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            if sock.exists():
                break
            time.sleep(0.05)
        r = hv("monitor", sock, "migrate", f"tcp:127.0.0.1:{port}")
        assert r.status == 0, r.err
        q = hv("monitor", sock, "query-migrate")      # the source may already be gone
        if q.status == 0:
            assert "return" in json.loads(q.out)
        sout, _ = src.communicate(timeout=60)
        dout, derr = dst.communicate(timeout=60)
    finally:
        src.kill()
        dst.kill()
    assert b"Traceback" not in derr
    assert sout + dout == b"." * 40 + b"\n"
    assert dst.returncode == 4


# --- §12: `hv debug` and `hv dap` launch surface -----------------------------------------

DEBUG_SCRIPT = b"break loop\ncontinue\ncontinue\nprint $r1\nstepi\nreverse-stepi\nprint $r1\nquit\n"


@pytest.mark.parametrize("opts", [[], ["--hv"], ["--core", "py"], ["--hv", "--core", "py"]])
def test_debug_scripted(opts):
    r = hv("debug", MOB / "alpha.s", *opts, input=DEBUG_SCRIPT)
    assert r.status == 0, r.err
    # stopped at `loop` twice: one letter printed, r1 = 'B' (66), before and after a
    # step forward and back
    assert r.out.count("= 66") == 2, r.out
    assert "A" in r.out


def test_debug_input_reaches_the_guest():
    r = hv("debug", MOB / "echo.s", "--input", "xy", input=b"continue\nquit\n")
    assert r.status == 0, r.err
    assert "[xy]" in r.out


def test_debug_several_cpus():
    r = hv("debug", MOB / "alpha.s", "--cpus", "2", input=DEBUG_SCRIPT)
    assert r.status == 0 and r.out.count("= 66") == 2, r.err


class _Dap:
    def __init__(self):
        import queue
        import subprocess
        import sys
        import threading
        self.p = subprocess.Popen([sys.executable, "-m", "hv", "dap"], cwd=ROOT,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.q = queue.Queue()
        self.seq = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        import json
        f = self.p.stdout
        while True:
            hdr = b""
            while not hdr.endswith(b"\r\n\r\n"):
                c = f.read(1)
                if not c:
                    self.q.put(None)
                    return
                hdr += c
            n = next(int(l.split(b":")[1]) for l in hdr.split(b"\r\n")
                     if l.lower().startswith(b"content-length"))
            self.q.put(json.loads(f.read(n)))

    def send(self, cmd, args=None):
        import json
        self.seq += 1
        m = {"seq": self.seq, "type": "request", "command": cmd}
        if args is not None:
            m["arguments"] = args
        b = json.dumps(m).encode()
        self.p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(b) + b)
        self.p.stdin.flush()
        return self.seq

    def until(self, pred, seen):
        while True:
            m = self.q.get(timeout=60)
            assert m is not None, "the adapter closed its output"
            seen.append(m)
            if pred(m):
                return m

    def request(self, cmd, args=None, seen=None):
        seq = self.send(cmd, args)
        return self.until(lambda m: m.get("type") == "response" and m.get("request_seq") == seq,
                          seen if seen is not None else [])


@pytest.mark.parametrize("cpus", [1, 2])
def test_dap_launch_arguments(cpus):
    d = _Dap()
    try:
        init = d.request("initialize", {"adapterID": "hv"})
        assert init["success"] and init["body"]["supportsStepBack"] is True
        seen = []
        r = d.request("launch", {"program": str(MOB / "echo.s"), "core": CORES[0],
                                 "hypervisor": True, "cpus": cpus, "input": "hi",
                                 "stopOnEntry": True}, seen)
        assert r["success"], r
        d.request("configurationDone", None, seen)
        d.until(lambda m: m.get("event") == "stopped", seen)
        th = d.request("threads")
        assert len(th["body"]["threads"]) == cpus           # one thread per CPU
        d.request("continue", {"threadId": th["body"]["threads"][0]["id"]}, seen)
        ex = d.until(lambda m: m.get("event") == "exited", seen)
        assert ex["body"]["exitCode"] == 2                   # echo.s: the bytes it read
        text = "".join(m["body"]["output"] for m in seen if m.get("event") == "output"
                       and m["body"].get("category") in (None, "stdout"))
        assert "[hi]" in text
        d.request("disconnect")
    finally:
        d.p.kill()
        d.p.wait()


# --- §11: several CPUs --------------------------------------------------------------------

SMP = C / "smp"

SMP_CASES = {   # program: (cpus, quantum or None, output, status)
    "turns.s": (3, 4, "001122001122\n", 0),
    "turns.s default quantum": (3, None, "000011112222\n", 0),
    "ctrl.s": (2, 10, "0012 10\n", 0),
    "ipi.s": (2, None, "16 0 18 0 \ncpu1 18 0\n", 0),
    "xchg.s": (2, 7, "9 5 3 6 00010000\n2000\n", 0),
    "halt1.s": (3, None, "h", 9),
    "ipi1.s": (1, None, "A01ok\n", 0),
    "allwait.s": (2, None, "w", 125),
}


@pytest.mark.parametrize("mode", ["run", "boot"])
@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("prog", sorted(SMP_CASES))
def test_smp_program(prog, core, mode):
    cpus, quantum, want, status = SMP_CASES[prog]
    args = [mode, "--core", core, "--cpus", cpus, SMP / prog.split()[0]]
    if quantum:
        args[1:1] = ["--quantum", quantum]
    r = hv(*args)
    assert (r.status, r.out) == (status, want), r.err
    if status == 125:
        assert len(r.err.strip().splitlines()) == 1


def test_smp_per_guest_cpus_in_boot():
    r = hv("boot", f"{SMP / 'turns.s'}:cpus=3,quantum=4")
    assert (r.status, r.out) == (0, "001122001122\n"), r.err


def test_smp_one_cpu_is_the_plain_machine():
    # with --cpus 1 every §2 program behaves as without it
    for prog, (extra, want, status) in BARE.items():
        r = hv("run", "--cpus", "1", "--quantum", "3", *extra, ASM / prog)
        assert (r.status, r.out) == (status, want), prog


def test_dap_launch_without_stop_on_entry_runs_to_the_end():
    d = _Dap()
    try:
        d.request("initialize", {"adapterID": "hv"})
        seen = []
        r = d.request("launch", {"program": str(MOB / "alpha.s"), "core": CORES[-1],
                                 "hypervisor": False, "cpus": 1, "input": "",
                                 "stopOnEntry": False}, seen)
        assert r["success"], r
        d.request("configurationDone", None, seen)
        ex = d.until(lambda m: m.get("event") == "exited", seen)
        assert ex["body"]["exitCode"] == 3
        assert not any(m.get("event") == "stopped" for m in seen)
        text = "".join(m["body"]["output"] for m in seen if m.get("event") == "output"
                       and m["body"].get("category") in (None, "stdout"))
        assert ALPHA in text
        d.request("disconnect")
    finally:
        d.p.kill()
        d.p.wait()


@pytest.mark.parametrize("mode", ["run", "boot"])
def test_smp_snapshot_and_switch_core(tmp_path, mode):
    # Reading (docs/isa.md): a machine's instruction count with several CPUs is the sum of
    # their clocks, so at 10 with Q = 4: CPU 0 and CPU 1 printed "00", "11", CPU 2 nothing.
    snap = tmp_path / "s.snap"
    full = "001122001122\n"
    assert out_of(mode, "--cpus", 3, "--quantum", 4, SMP / "turns.s",
                  "--snapshot-at", f"10:{snap}") == full
    for c in CORES:
        assert out_of("restore", snap, "--core", c) == full[4:]
    if len(CORES) == 2:
        assert out_of(mode, "--cpus", 3, "--quantum", 4, SMP / "turns.s",
                      "--switch-core-at", 7) == full
