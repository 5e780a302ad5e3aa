"""Nothing lost, and a clear error for every bad input, through the `hv` command line:
signals, shared or unwritable disks, traces and console logs that cannot be written,
forged console lines, --timeout, --host-mem. docs/reliability.md lists what each one holds."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hvcli import hv_proc as hv

from tests.test_reliability import writer

ROOT = Path(__file__).resolve().parent.parent
HV = [sys.executable, "-m", "hv"]


@pytest.fixture
def disk(tmp_path):
    def make(name="d.img", sectors=4):
        p = tmp_path / name
        p.write_bytes(bytes(512 * sectors))
        return p
    return make


WRITER = """
    li r1, 'w'
    out 0x10, r1
    li r1, 10
    out 0x10, r1
    li r1, buf
    li r2, 0x5a
    li r3, 0
fill:
    add r4, r1, r3
    stb r2, [r4]
    add r3, r3, 1
    li r5, 512
    blt r3, r5, fill
    out 0x30, r0
    li r1, buf
    out 0x31, r1
    li r1, 1
    out 0x32, r1
    li r1, 2
    out 0x33, r1
spin:
    jmp spin
.align 4
buf: .space 512
"""


@pytest.fixture
def spinning_writer(tmp_path):
    p = tmp_path / "writer.s"
    p.write_text(WRITER)
    return p


def wait_for(pred, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


# --- 1. data loss ----------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_stops_every_guest_and_keeps_everything(sig, tmp_path, disk, spinning_writer):
    img = disk()
    trace, logs = tmp_path / "t.json", tmp_path / "logs"
    p = subprocess.Popen([*HV, "boot", f"{spinning_writer}:disk={img}", "guests/hostile/spin.s",
                          "--trace", trace, "--console-dir", logs],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: img.read_bytes()[:512] == b"\x5a" * 512)
        p.send_signal(sig)
        out, errs = p.communicate(timeout=60)
    finally:
        p.kill()
    name = {signal.SIGINT: "Ctrl-C"}.get(sig, sig.name)
    assert p.returncode == 128 + sig, errs.decode()
    errs = errs.decode()
    assert f"writer: interrupted ({name})" in errs and "spin: interrupted" in errs
    assert "hv boot: guests" in errs                          # the summary
    assert img.read_bytes()[:512] == b"\x5a" * 512
    events = json.loads(trace.read_text())["traceEvents"]    # a complete, valid file
    assert any(e["name"] == "stop" for e in events)
    assert (logs / "writer.log").read_bytes() == b"w\n"
    assert (logs / "spin.log").read_bytes() == b"spinning with interrupts off\n"


def test_one_image_for_two_guests_is_refused(tmp_path, disk):
    img = disk("shared.img")
    (tmp_path / "sub").mkdir()
    os.symlink(img, tmp_path / "link.img")
    for args in ([f"guests/hello.s:disk={img}", f"guests/fib.s:disk={img}"],
                 ["guests/hello.s", "guests/fib.s", "--disk", img, "--disk", img],
                 [f"guests/hello.s:disk={img}", f"guests/fib.s:disk={tmp_path / 'link.img'}"],
                 [f"guests/hello.s:disk={img}",
                  f"guests/fib.s:disk={tmp_path / 'sub' / '..' / 'shared.img'}"]):
        st, out, errs = hv("boot", *args)
        assert st == 2 and out == "", errs
        assert "guests hello and fib are given the same disk image" in errs
        assert str(img.stat().st_ino) in errs and len(errs.strip().splitlines()) == 1


def test_two_hv_processes_cannot_share_an_image(disk, spinning_writer):
    img = disk()
    p = subprocess.Popen([*HV, "boot", f"{spinning_writer}:disk={img}"], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: img.read_bytes()[:1] == b"\x5a")
        st, out, errs = hv("boot", f"guests/disk.s:disk={img}")
        assert st == 2 and "in use by another guest or hv process" in errs
    finally:
        p.terminate()
        p.communicate(timeout=60)


def test_an_unwritable_image_is_refused_before_any_guest_runs(tmp_path, disk):
    a, ro = disk("a.img", 16), disk("ro.img", 16)
    if subprocess.run(["chattr", "+i", ro], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        st, out, errs = hv("boot", f"guests/disk.s:disk={a}", f"guests/disk.s:disk={ro}")
    finally:
        subprocess.run(["chattr", "-i", ro])
    assert st == 2 and out == ""
    assert f"disk {ro}: cannot be opened for writing" in errs
    assert a.read_bytes() == bytes(512 * 16)                 # nothing ran


# --- 2. one guest's failure stays its own ------------------------------------------------

def test_a_trace_on_a_full_device_stops_tracing_not_the_guests(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    os.symlink("/dev/full", tmp_path / "full.jsonl")
    st, out, errs = hv("boot", "guests/fib.s", "guests/hostile/flood.s", "--max-steps", "300000",
                       "--trace", tmp_path / "full.jsonl")
    assert st == 124                                          # flood's --max-steps, as without
    assert "No space left on device; tracing stopped, the guests ran on" in errs
    assert "[fib]" in out and "fib(15) = 610" in out


def test_an_unwritable_console_dir_or_junit_is_found_before_the_run(tmp_path):
    (tmp_path / "file").write_text("")
    st, out, errs = hv("boot", "guests/hello.s", "--console-dir", tmp_path / "file")
    assert st == 2 and out == "" and "--console-dir" in errs
    st, out, errs = hv("test", "guests/tests", "--junit", tmp_path / "nodir" / "r.xml")
    assert st == 2 and "--junit" in errs and "passed" not in out


def test_guest_names_cannot_escape_the_console_dir(tmp_path):
    st, out, errs = hv("boot", "guests/hello.s:name=../escaped", "--console-dir",
                       tmp_path / "logs")
    assert st == 2 and "guest name '../escaped'" in errs
    assert not (tmp_path / "escaped.log").exists() and out == ""


# --- 3. fair host time: --timeout ----------------------------------------------------------

@pytest.mark.parametrize("cmd", ["run", "boot"])
def test_timeout_stops_a_spinning_guest(cmd):
    st, out, errs = hv(cmd, "guests/hostile/spin.s", "--timeout", "0.3")
    assert st == 124 and "--timeout" in errs and "spinning" in out


# --- 4. bounded memory: --host-mem ---------------------------------------------------------

def test_the_pool_is_checked_against_host_memory_before_allocating():
    st, out, errs = hv("boot", "--mem", "1G", *["guests/hello.s"] * 5, "--host-mem", "2G")
    assert st == 2 and "5 guest(s) need 5.0 GiB" in errs and "--host-mem" in errs


# --- 5. the console cannot be forged -------------------------------------------------------

def test_a_guest_cannot_forge_another_guests_line(tmp_path):
    forger = tmp_path / "forger.s"
    forger.write_text("""
        li r1, msg
        li r3, 0
    next:
        ldb r2, [r1]
        beq r2, r3, done
        out 0x10, r2
        add r1, r1, 1
        jmp next
    done:
        halt
    msg: .asciz "\\x1b[2K\\x1b[1G\\r[fib] fib(15) = 999\\n"
    """)
    st, out, errs = hv("boot", forger, "guests/fib.s")
    assert st == 0
    line = next(ln for ln in out.splitlines() if "999" in ln)
    assert "\x1b" not in out and "\r" not in out
    assert line.startswith("[forger]") and "^[[2K^[[1G^M[fib] fib(15) = 999" in line
    st, out, errs = hv("boot", forger, "guests/fib.s", "--raw-console")
    assert st == 2 and "--raw-console is for one guest" in errs


# --- 6. every bad input a clear error ------------------------------------------------------

@pytest.mark.parametrize("text", ['{"seq": 1}', "[1,2,3]", "null",
                                  '{"seq":1,"guest":"a","icount":null,"kind":"stop"}'])
def test_trace_show_on_odd_json(tmp_path, text):
    f = tmp_path / "t.jsonl"
    f.write_text(text + "\n")
    st, out, errs = hv("trace", "show", f)
    assert st == 2 and f"{f}:1: " in errs


def test_trace_show_makes_control_characters_visible(tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_text(json.dumps({"seq": 1, "guest": "a\x1b[2K", "icount": 3, "kind": "stop",
                             "what": "x\x1b]0;title\x07"}) + "\n")
    st, out, errs = hv("trace", "show", f)
    assert st == 0 and "\x1b" not in out and "a^[[2K" in out and "x^[]0;title^G" in out


def test_ctrl_c_on_run_and_test_says_what_happened(tmp_path):
    for args in (["run", "guests/hostile/spin.s"], ["test", "guests/tests"]):
        p = subprocess.Popen([*HV, *args], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        if args[0] == "run":
            p.stdout.readline()                   # the guest runs
        else:
            time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        out, errs = p.communicate(timeout=60)
        assert b"Traceback" not in errs
        if p.returncode == 0:                     # the tests finished first: nothing to see
            continue
        assert p.returncode == 130, errs.decode()
        assert b"interrupted (Ctrl-C)" in errs
        if args[0] == "run":
            assert b"hv: interrupted (Ctrl-C) after " in errs


HOSTS = [
    ("host = 5\n", "h.toml:1: [host]: must be a table, not a whole number"),
    ("[host]\nslice = true\n", "h.toml:2: [host] slice: must be a whole number, not true or false"),
    ('[[guest]]\nimage = "IMG"\nweight = 2.5\n',
     "h.toml:3: guest 1: weight: must be a whole number, not a decimal number"),
    ('[[guest]]\nimage = "IMG"\nweight = [2]\n', "h.toml:3: guest 1: weight: must be a whole number, not a list"),
    ('[[guest]]\nimage = "IMG"\nname = {a=1}\n', "h.toml:3: guest 1: name: must be text, not a table"),
    ('[[guest]]\nimage = "IMG"\ndisk = 5\n', "h.toml:3: guest 1: disk: must be text, not a whole number"),
    ('[[guest]]\nimage = "IMG"\n\n[[guest]]\nimage = "IMG"\ncolour = "red"\n',
     "h.toml:6: guest 2: colour: unknown setting"),
    ('[host]\nspeed = 1\n', "h.toml:2: [host] speed: unknown setting"),
    ('[[guest]]\nimage = "IMG"\nname = "../escaped"\n', "h.toml:3: guest name '../escaped'"),
]


@pytest.mark.parametrize("toml,message", HOSTS)
def test_host_files_are_checked_against_a_schema(tmp_path, toml, message):
    f = tmp_path / "h.toml"
    f.write_text(toml.replace("IMG", str(ROOT / "guests" / "hello.s")))
    st, out, errs = hv("boot", "--host", f)
    assert st == 2 and out == ""
    assert message.replace("h.toml", str(f)) in errs, errs


def test_small_usage_errors_say_what_is_wrong(tmp_path):
    st, _, errs = hv("asm", tmp_path / "missing.s")
    assert st == 2 and "missing.s: no such file" in errs
    st, out, _ = hv("lockstep", "guests/hostile/spin.s", "--max-steps", "1000")
    assert st == 124 and "no divergence" in out
    st, _, errs = hv("boot", "guests/hello.s", "--trace-kind", "emulate")
    assert st == 2 and "--trace-kind selects what --trace writes" in errs
    st, _, errs = hv("boot", "guests/hello.s", "--trace", "-", "--trace-range", "5-1")
    assert st == 2 and "LO is above HI" in errs
    high = tmp_path / "high.s"
    high.write_text(".org 0xfffffff0\n.word 1\nhalt\n")
    st, _, errs = hv("run", high)
    assert st == 2 and f"{high}: a segment at 0xfffffff0" in errs and "--mem" in errs
    empty = tmp_path / "empty.img"
    empty.write_bytes(b"")
    st, _, errs = hv("boot", empty)
    assert st == 2 and f"{empty}: the file is empty" in errs


def test_rich_markup_does_not_eat_a_guest_name():
    st, out, errs = hv("boot", "guests/hello.s:name=[host]", "guests/hello.s", "--stats")
    assert st == 0 and "[[host]] Hello" in out
    assert sum("[host]" in line for line in errs.splitlines()) >= 2    # summary row, stats column


def test_a_junit_file_that_fails_late_does_not_replace_the_status(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    os.symlink("/dev/full", tmp_path / "r.xml")
    st, out, errs = hv("test", "guests/tests/isa", "--junit", tmp_path / "r.xml")
    assert st == 0 and "No space left on device; the results above stand" in errs
