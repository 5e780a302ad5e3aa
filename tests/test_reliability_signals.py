"""Signals and --timeout on the commands that run guests besides run, boot and test: `hv os`
(bare and --hv), `hv restore` (bare and guest snapshots) and `hv boot --incoming`. Each gets
real signals as a real `hv` process, and must stop as `hv boot` does: the guest interrupted,
its disk flushed, `hv: interrupted (SIGNAL) after N instructions`, exit status 128 + signal
(124 for --timeout). docs/reliability.md §1."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HV = [sys.executable, "-m", "hv"]
NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP"}

# A user program for the OS: says it runs, then spins forever.
OS_SPIN = """.include "user.s"
main:
    li   r1, msg
    call puts
forever:
    jmp  forever
msg: .asciz "spinning\\n"
"""

# A bare guest: a delay, then a line (so a restored or migrated copy shows it runs), then spins.
LATE = """
    li r1, 0
    li r2, 20000
wait:
    add r1, r1, 1
    blt r1, r2, wait
    li r1, 'l'
    out 0x10, r1
    li r1, 10
    out 0x10, r1
spin:
    jmp spin
"""


def start(*args):
    return subprocess.Popen([*HV, *map(str, args)], cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def signal_after_line(p, sig, line):
    """Wait until the guest printed `line` (its run, and so the handler, has started), send
    `sig`, and return (status, stdout, stderr)."""
    try:
        got = p.stdout.readline()
        assert got == line, (got, p.stderr.read() if p.poll() is not None else b"")
        p.send_signal(sig)
        out, errs = p.communicate(timeout=60)
    finally:
        p.kill()
    return p.returncode, out.decode(), errs.decode()


def check_stopped(st, errs, sig):
    assert "Traceback" not in errs, errs
    assert st == 128 + sig, errs
    assert f"hv: interrupted ({NAMES[sig]}) after " in errs, errs


@pytest.fixture
def os_spin(tmp_path):
    p = tmp_path / "spin.s"
    p.write_text(OS_SPIN)
    return p


@pytest.fixture
def late(tmp_path):
    p = tmp_path / "late.s"
    p.write_text(LATE)
    return p


@pytest.mark.parametrize("sig,mode", [(signal.SIGTERM, "bare"), (signal.SIGHUP, "hv"),
                                      (signal.SIGINT, "hv")])
def test_a_signal_stops_hv_os(os_spin, sig, mode):
    p = start("os", *(["--hv"] if mode == "hv" else []), os_spin)
    st, out, errs = signal_after_line(p, sig, b"spinning\n")
    check_stopped(st, errs, sig)


@pytest.mark.parametrize("mode", ["bare", "hv"])
def test_timeout_stops_hv_os(os_spin, mode):
    r = subprocess.run([*HV, "os", *(["--hv"] if mode == "hv" else []), os_spin,
                        "--timeout", "0.5"], cwd=ROOT, capture_output=True, timeout=60)
    errs = r.stderr.decode()
    assert r.returncode == 124 and r.stdout == b"spinning\n", errs
    assert "stopped after 0.5 s of wall-clock time (--timeout) after " in errs


@pytest.mark.parametrize("cmd,sig", [("run", signal.SIGTERM), ("boot", signal.SIGHUP)])
def test_a_signal_stops_hv_restore(tmp_path, late, cmd, sig):
    snap = tmp_path / "late.snap"
    r = subprocess.run([*HV, cmd, late, "--snapshot-at", f"100:{snap}", "--max-steps",
                        "200000"], cwd=ROOT, capture_output=True, timeout=60)
    assert r.returncode == 124 and snap.exists(), r.stderr.decode()
    p = start("restore", snap, "--max-steps", 10**12)
    st, out, errs = signal_after_line(p, sig, b"l\n")
    check_stopped(st, errs, sig)
    r = subprocess.run([*HV, "restore", snap, "--max-steps", str(10**12), "--timeout", "0.5"],
                       cwd=ROOT, capture_output=True, timeout=60)
    assert r.returncode == 124 and r.stdout == b"l\n", r.stderr.decode()
    assert "(--timeout)" in r.stderr.decode()


def _incoming(*extra):
    p = start("boot", "--incoming", "tcp:127.0.0.1:0", "--incoming-timeout", "30", *extra)
    line = p.stderr.readline().decode()
    assert "waiting for a guest on tcp:" in line, line
    return p, int(line.rsplit(":", 1)[1])


def test_a_signal_while_waiting_for_a_guest():
    p, _ = _incoming()
    try:
        p.send_signal(signal.SIGTERM)
        out, errs = p.communicate(timeout=60)
    finally:
        p.kill()
    errs = errs.decode()
    assert p.returncode == 143 and "Traceback" not in errs, errs
    assert "interrupted (SIGTERM) while waiting for a guest" in errs


@pytest.mark.parametrize("how", ["signal", "timeout"])
def test_a_migrated_guest_stops_on_a_signal_or_timeout(late, how):
    p, port = _incoming(*(["--timeout", "0.5"] if how == "timeout" else []))
    try:
        src = subprocess.run([*HV, "boot", late, "--migrate-at", f"100:tcp:127.0.0.1:{port}"],
                             cwd=ROOT, capture_output=True, timeout=60)
        assert b"migrated" in src.stderr, src.stderr
        if how == "signal":
            st, out, errs = signal_after_line(p, signal.SIGTERM, b"l\n")
            check_stopped(st, errs, signal.SIGTERM)
        else:
            out, errs = p.communicate(timeout=60)
            assert p.returncode == 124 and out == b"l\n", errs
            assert b"(--timeout)" in errs
    finally:
        p.kill()
