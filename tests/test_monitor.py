"""The QMP-shaped monitor of `hv boot --monitor unix:PATH`, driven by `hv monitor` and by a raw
socket: status, stop/cont, a snapshot that restores exactly, a migration, quit, and bad
input that gets a JSON error instead of taking the host down."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from vcpu.cores import available_kinds

ROOT = Path(__file__).resolve().parent.parent
GUESTS = ROOT / "guests"
HV = [sys.executable, "-m", "hv"]
CORE = "py"          # the slow core: the guest is still running when the commands arrive


def hv(*args, timeout=60):
    return subprocess.run([*HV, *map(str, args)], cwd=ROOT, capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def monitor(sock, *args):
    p = hv("monitor", sock, *args)
    return json.loads(p.stdout), p.returncode


def boot_with_monitor(sock, *extra):
    p = subprocess.Popen([*HV, "boot", GUESTS / "dirty.s", "--mem", "1M", "--core", CORE,
                          "--monitor", f"unix:{sock}", *extra], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    for _ in range(200):
        if Path(sock).exists():
            break
        time.sleep(0.05)
    return p


def test_status_stop_snapshot_cont_quit(tmp_path):
    sock, snap = tmp_path / "m.sock", tmp_path / "m.snap"
    p = boot_with_monitor(sock, "--max-steps", "400000")
    try:
        r, rc = monitor(sock, "query-status")
        assert rc == 0 and r["return"]["status"] == "running"
        assert monitor(sock, "stop")[0] == {"return": {}}
        st1 = monitor(sock, "query-status")[0]["return"]
        time.sleep(0.3)
        st2 = monitor(sock, "query-status")[0]["return"]
        assert st1["status"] == "paused" and st1["guests"] == st2["guests"]   # really stopped
        r, rc = monitor(sock, "snapshot", snap)
        assert rc == 0 and r["return"]["icount"] == st1["guests"][0]["icount"]
        r, rc = monitor(sock, "bogus")
        assert rc == 1 and r["error"]["class"] == "CommandNotFound"
        r, rc = monitor(sock, "snapshot")
        assert rc == 1 and "file" in r["error"]["desc"]
        # Raw protocol: greeting, then garbage answered with errors, connection kept.
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(sock))
        f = s.makefile("rb")
        assert "QMP" in json.loads(f.readline())
        s.sendall(b'not json\n{"execute": 5}\n[]\n{"execute": "query-status", "id": 7}\n')
        replies = [json.loads(f.readline()) for _ in range(4)]
        assert [("error" in r) for r in replies] == [True, True, True, False]
        assert replies[3]["id"] == 7
        s.close()
        assert monitor(sock, "cont")[0] == {"return": {}}
        out, _ = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 124
    # The snapshot taken from the monitor continues exactly (to the same --max-steps).
    info = json.loads(hv("snapshot", "info", snap, "--json").stdout)
    r = hv("restore", snap, "--core", "c" if "c" in available_kinds() else "py")
    assert r.returncode == 124 and r.stdout == out[info["console_output_before"]:]
    assert not sock.exists()


def test_quit(tmp_path):
    sock = tmp_path / "q.sock"
    p = boot_with_monitor(sock)
    try:
        assert monitor(sock, "quit") == ({"return": {}}, 0)
        p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode is not None and not sock.exists()


def test_migrate_from_the_monitor(tmp_path):
    sock = tmp_path / "g.sock"
    full = hv("boot", GUESTS / "dirty.s", "--mem", "1M")
    dest = subprocess.Popen([*HV, "boot", "--incoming", "tcp:127.0.0.1:0",
                             "--incoming-timeout", "30"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    port = int(dest.stderr.readline().decode().rsplit(":", 1)[1])
    p = boot_with_monitor(sock)
    try:
        r, rc = monitor(sock, "migrate", f"tcp:127.0.0.1:{port}")
        assert rc == 0 and r["return"]["status"] == "completed", r
        assert r["return"]["rounds"] >= 1 and r["return"]["bytes"] > 0
        src_out, src_err = p.communicate(timeout=60)
        dst_out, _ = dest.communicate(timeout=60)
    finally:
        p.kill()
        dest.kill()
    assert src_out + dst_out == full.stdout
    assert dest.returncode == 0 and p.returncode == 0
