"""Live migration between two real `hv` processes on 127.0.0.1.

A successful migration: the source's output followed by the destination's equals the
uninterrupted run's, and the destination exits with the run's status. A failed one, at every
cut point of the protocol: the source says so in one line on stderr and finishes the run
itself with the uninterrupted output and status; the destination starts nothing, prints
nothing on stdout and exits with one line on stderr.

Failures are made by a proxy between the two that understands the framing: it cuts the
stream at a chosen frame (or in the middle of one), corrupts a byte, stalls, or kills the
destination.
"""
from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vcpu.cores import available_kinds

ROOT = Path(__file__).resolve().parent.parent
GUESTS = ROOT / "guests"
CORES = available_kinds()
TIMEOUT = 60
HV = [sys.executable, "-m", "hv"]


def hv(*args):
    return subprocess.run([*HV, *map(str, args)], cwd=ROOT, capture_output=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def start_destination(*extra):
    p = subprocess.Popen([*HV, "boot", "--incoming", "tcp:127.0.0.1:0", "--migrate-timeout",
                          "5", "--incoming-timeout", "30", *extra], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    line = p.stderr.readline().decode()
    assert "waiting for a guest on tcp:" in line, line
    return p, int(line.rsplit(":", 1)[1])


class Proxy(threading.Thread):
    """Forwards one connection, frame by frame, and fails it on request.

    fault = (direction, tag, index, action): at the `index`-th frame with `tag` going
    `direction` ("up" = source to destination), do `action`: "cut" (close both sides before
    it), "half" (send half of it, then close), "corrupt" (flip a byte of its payload),
    "stall" (stop forwarding, keep the connection open), "kill" (kill the destination, then
    close), "format" (rewrite HELO's format version, with a valid checksum)."""

    def __init__(self, dst_port: int, fault=None, dest_proc=None):
        super().__init__(daemon=True)
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.port = self.lsock.getsockname()[1]
        self.dst_port = dst_port
        self.fault = fault
        self.dest_proc = dest_proc
        self.frames: list[tuple[str, str]] = []
        self.stop = threading.Event()

    def run(self):
        try:
            a, _ = self.lsock.accept()
        except OSError:
            return
        b = socket.create_connection(("127.0.0.1", self.dst_port))
        t = threading.Thread(target=self.pump, args=(b, a, "down"), daemon=True)
        t.start()
        self.pump(a, b, "up")
        t.join(10)

    def _read(self, s, n):
        buf = b""
        while len(buf) < n:
            c = s.recv(n - len(buf))
            if not c:
                raise ConnectionError
            buf += c
        return buf

    def pump(self, src, dst, direction):
        counts: dict = {}
        try:
            while not self.stop.is_set():
                head = self._read(src, 8)
                tag, n = struct.unpack("<4sI", head)
                body = self._read(src, n + 4)
                name = tag.decode()
                i = counts.get(name, 0)
                counts[name] = i + 1
                self.frames.append((direction, name))
                frame = head + body
                f = self.fault
                if f and f[0] == direction and f[1] == name and f[2] == i:
                    action = f[3]
                    if action == "stall":
                        self.stop.wait(20)
                        return
                    if action == "corrupt":
                        frame = bytearray(frame)
                        frame[8 + n // 2] ^= 0x10
                        frame = bytes(frame)
                    elif action == "format":
                        import json
                        import xxhash
                        obj = json.loads(body[:-4])
                        obj["format"] = 99
                        payload = json.dumps(obj).encode()
                        h = struct.pack("<4sI", tag, len(payload))
                        x = xxhash.xxh32(h)
                        x.update(payload)
                        frame = h + payload + struct.pack("<I", x.intdigest())
                    elif action == "half":
                        dst.sendall(frame[:len(frame) // 2])
                        raise ConnectionError
                    else:
                        if action == "kill" and self.dest_proc:
                            self.dest_proc.kill()
                        raise ConnectionError
                dst.sendall(frame)
        except (ConnectionError, OSError):
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


@pytest.fixture(scope="module")
def dirty_full():
    p = hv("boot", GUESTS / "dirty.s", "--mem", "1M")
    assert p.returncode == 0
    return p


def migrate(guest_args, at, fault=None, src_extra=(), dst_extra=()):
    dest, port = start_destination(*dst_extra)
    proxy = Proxy(port, fault, dest)
    proxy.start()
    src = hv("boot", *guest_args, "--migrate-at", f"{at}:tcp:127.0.0.1:{proxy.port}",
             "--migrate-timeout", "2" if fault and fault[3] == "stall" else "8",
             *src_extra)
    try:
        out, errb = dest.communicate(timeout=TIMEOUT)
    finally:
        dest.kill()
    proxy.stop.set()
    return src, (dest.returncode, out, errb), proxy.frames


@pytest.mark.parametrize("src_core,dst_core", [(a, b) for a in CORES for b in CORES])
def test_kernel_moves_between_processes_and_cores(src_core, dst_core):
    args = [GUESTS / "kernel.s", "--mem", "128K", "--core", src_core]
    full = hv("boot", *args)
    src, (rc, out, errb), frames = migrate(args, 30000, dst_extra=("--core", dst_core))
    assert b"migrated to tcp:" in src.stderr, src.stderr
    assert src.returncode == 0
    assert rc == full.returncode and src.stdout + out == full.stdout, errb


def test_a_guest_that_dirties_memory_converges(dirty_full):
    args = [GUESTS / "dirty.s", "--mem", "1M"]
    src, (rc, out, errb), frames = migrate(args, 60000, src_extra=("--max-downtime", "0"))
    assert b"migrated to tcp:" in src.stderr, src.stderr
    assert src.stdout + out == dirty_full.stdout and rc == 0
    # With no downtime allowed every round finds dirty pages: several rounds were sent.
    assert sum(1 for d, t in frames if t == "ROND") >= 2


# (direction, tag, index, action): one for each stage of the protocol.
CUTS = [
    ("up", "HELO", 0, "cut"),          # nothing arrives
    ("up", "HELO", 0, "half"),         # during the header
    ("up", "HELO", 0, "format"),       # another format version
    ("down", "OKAY", 0, "cut"),        # the destination's answer lost
    ("up", "PAGE", 0, "cut"),          # first pre-copy round
    ("up", "PAGE", 1, "corrupt"),      # a corrupt chunk
    ("up", "ROND", 0, "cut"),          # end of round 1
    ("up", "ROND", 1, "half"),         # end of round 2
    ("up", "PAGE", 9, "stall"),        # a stalled link (timeouts)
    ("up", "STAT", 0, "half"),         # the device state
    ("up", "STAT", 0, "kill"),         # the destination killed
    ("down", "ACKS", 0, "cut"),        # before the confirmation reaches the source
    ("up", "GOGO", 0, "cut"),          # after the confirmation, before the switch-over
]


@pytest.mark.parametrize("fault", CUTS, ids=["-".join(map(str, c)) for c in CUTS])
def test_the_source_survives(fault, dirty_full):
    args = [GUESTS / "dirty.s", "--mem", "1M"]
    src, (rc, out, errb), frames = migrate(args, 60000, fault,
                                           src_extra=("--max-downtime", "0"))
    lines = src.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "migration to tcp:" in lines[0] and "failed" in lines[0], lines
    assert src.returncode == 0 and src.stdout == dirty_full.stdout
    assert out == b"" and rc != 0
    if rc > 0:        # not killed: it said why, in one line
        assert len(errb.decode().strip().splitlines()) == 1, errb


def test_nobody_listening():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    full = hv("boot", GUESTS / "hello.s")
    p = hv("boot", GUESTS / "hello.s", "--migrate-at", f"50:tcp:127.0.0.1:{port}",
           "--migrate-timeout", "0.5")
    assert p.stdout == full.stdout and p.returncode == 0
    assert b"failed: cannot connect" in p.stderr and len(p.stderr.splitlines()) == 1


def test_a_disk_guest_hands_its_disk_over(tmp_path):
    disk = tmp_path / "d.img"
    disk.write_bytes(bytes(16 * 512))
    full = hv("boot", GUESTS / "disk.s", "--disk", disk)
    want_disk = disk.read_bytes()
    disk.write_bytes(bytes(16 * 512))
    src, (rc, out, errb), _ = migrate([GUESTS / "disk.s", "--disk", disk], 100)
    assert b"migrated" in src.stderr, src.stderr
    assert src.stdout + out == full.stdout and rc == full.returncode
    assert disk.read_bytes() == want_disk


def test_bad_targets_are_usage_errors():
    p = hv("boot", GUESTS / "hello.s", "--migrate-at", "5:udp:x:1")
    assert p.returncode == 2
    p = hv("boot", "--incoming", "tcp:nohost")
    assert p.returncode == 2 and len(p.stderr.splitlines()) >= 1


def test_one_guest_leaves_a_multi_guest_host(tmp_path):
    guests = [f"{GUESTS / 'kernel.s'}:mem=128K", GUESTS / "fib.s"]
    alone = tmp_path / "alone"
    hv("boot", *guests, "--console-dir", alone)
    moved = tmp_path / "moved"
    src, (rc, out, errb), _ = migrate([*guests, "--console-dir", moved], "kernel@30000")
    assert b"kernel: migrated to tcp:" in src.stderr and src.returncode == 0 and rc == 0
    # The guest that stayed printed exactly what it prints alone; the one that left printed
    # its first part here and the rest at the destination.
    assert (moved / "fib.log").read_bytes() == (alone / "fib.log").read_bytes()
    assert (moved / "kernel.log").read_bytes() + out == (alone / "kernel.log").read_bytes()


def test_bandwidth_limit_and_downtime_options():
    args = [GUESTS / "kernel.s", "--mem", "128K"]
    full = hv("boot", *args)
    src, (rc, out, errb), _ = migrate(args, 20000, src_extra=("--max-bandwidth", "2M",
                                                              "--max-downtime", "50"))
    assert b"migrated to tcp:" in src.stderr and src.stdout + out == full.stdout
    p = hv("boot", *args, "--migrate-at", "5:tcp:127.0.0.1:1", "--max-bandwidth", "fast")
    assert p.returncode == 2 and b"--max-bandwidth" in p.stderr


def test_a_destination_that_starts_late_is_waited_for(tmp_path):
    """A script that starts both sides at once: the source retries a refused connection for
    up to --migrate-timeout seconds."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    args = [GUESTS / "kernel.s"]
    full = hv("boot", *args)
    src = subprocess.Popen([*HV, "boot", *args, "--migrate-at", f"100:tcp:127.0.0.1:{port}"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL)
    time.sleep(0.5)
    dest = subprocess.run([*HV, "boot", "--incoming", f"tcp:127.0.0.1:{port}",
                           "--incoming-timeout", "20"], cwd=ROOT, capture_output=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    out, err = src.communicate(timeout=TIMEOUT)
    assert b"migrated" in err, err
    assert out + dest.stdout == full.stdout and dest.returncode == full.returncode


def test_an_smp_guest_moves_with_all_its_cpus():
    args = [f"{GUESTS / 'smp.s'}:cpus=4"]
    full = hv("boot", *args)
    dst_core = CORES[-1]
    src, (rc, out, errb), _ = migrate(args, 8000, dst_extra=("--core", dst_core))
    assert b"migrated to tcp:" in src.stderr, src.stderr
    assert src.stdout + out == full.stdout and rc == full.returncode
