"""The virtual network: device, switch, deterministic delivery within one host, two hv
processes joined over TCP, and frames from the wire treated as untrusted. Every socket is on
127.0.0.1 and every wait is bounded."""
from __future__ import annotations

import re
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from asm.assembler import assemble_file
from hypervisor.host import Host, frames_needed
from mobility.net import LATENCY, NetStatus, Switch, mac_for
from vcpu.isa import NetPort

ROOT = Path(__file__).resolve().parent.parent
MOB = ROOT / "guests" / "mobility"
HV = [sys.executable, "-m", "hv"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_net(names, core="c", slice_=10_000, max_steps=2_000_000):
    host = Host(len(names) * frames_needed(65536) * 4096)
    for n in names:
        host.add(n, assemble_file(MOB / f"{n}.s"), mem_size=65536, core=core)
    sw = Switch()
    for vm in host.vms:
        sw.attach(vm)
    host.net = sw
    host.run(slice_=slice_, max_steps=max_steps)
    return host, sw


def test_ping_pong_is_deterministic():
    """The same round trips whatever the core and the scheduler's slice: delivery follows the
    guests' instruction clocks, not the order the host happens to run them in."""
    seen = set()
    for core in ("c", "py"):
        for slice_ in (10_000, 700, 3):
            host, sw = run_net(["ping", "pong"], core, slice_)
            ping, pong = host.vms
            assert (ping.stop_kind, ping.status, pong.stop_kind) == ("poweroff", 0, "poweroff")
            seen.add((bytes(ping.output), bytes(pong.output), ping.core.icount, pong.core.icount))
    assert len(seen) == 1, seen
    out = seen.pop()[0].decode()
    rtts = [int(x) for x in re.findall(r"ping \d: round trip (\d+) instructions", out)]
    assert len(rtts) == 5 and len(set(rtts)) == 1
    assert 2 * LATENCY < rtts[0] < 2 * LATENCY + 200       # two hops plus pong's work


def test_waiting_forever_is_detected():
    host, sw = run_net(["pong"])
    (pong,) = host.vms
    assert pong.stop_kind == "wfi" and "no frame in flight" in pong.reason


def test_flood_is_contained():
    host, sw = run_net(["flood", "pong"])
    flood, pong = host.vms
    assert flood.output.startswith(b"flood: sent ") and flood.status == 0
    assert pong.output == b"pong: answered 5 pings\n"
    assert sw.stats["dropped: receive ring full"] > 0        # pong's ring holds 4 frames
    assert flood.stats.throttled > 0                         # its I/O tokens ran out


def test_device_status_codes():
    host = Host(frames_needed(65536) * 4096)
    vm = host.add("g", assemble_file(MOB / "pong.s"), mem_size=65536, core="py")
    dev = Switch().attach(vm)

    def cmd(addr, length, c):
        vm.bus.write(NetPort.ADDR, addr)
        vm.bus.write(NetPort.LEN, length)
        vm.bus.write(NetPort.CMD, c)
        return vm.bus.read(NetPort.CMD)
    assert cmd(0, 13, 1) == NetStatus.BAD_LEN
    assert cmd(0, 1515, 1) == NetStatus.BAD_LEN
    assert cmd(65536 - 10, 14, 1) == NetStatus.BAD_DMA
    assert cmd(0, 65, 2) == NetStatus.BAD_LEN
    assert cmd(65536 - 2048, 2, 2) == NetStatus.BAD_DMA
    assert cmd(0, 1, 7) == NetStatus.BAD_CMD
    assert cmd(0, 14, 1) == NetStatus.OK                      # to 00:00:00:00:00:00: nobody
    mac = vm.bus.read(NetPort.MAC_LO).to_bytes(4, "little") + \
        vm.bus.read(NetPort.MAC_HI).to_bytes(2, "little")
    assert mac == mac_for("g") == dev.mac and mac[0] == 2
    assert vm.bus.read(NetPort.DROPS) == 1


def test_hv_boot_net_and_bad_flags():
    r = subprocess.run(HV + ["boot", str(MOB / "ping.s"), str(MOB / "pong.s"), "--net"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "[ping] ping: average round trip" in r.stdout and "[pong] pong: answered 5" in r.stdout
    r = subprocess.run(HV + ["boot", str(MOB / "pong.s"), "--net-peer", "udp:x"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2 and "tcp:HOST:PORT" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(HV + ["boot", str(MOB / "pong.s"), "--net"], capture_output=True,
                       text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 125 and "never wake" in r.stderr


def _boot(prog, port, *extra):
    return subprocess.Popen(HV + ["boot", str(MOB / prog), "--net-peer", f"tcp:127.0.0.1:{port}",
                                  "--net-wait", "20", "--stats", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def test_two_processes_ping_pong():
    port = free_port()
    pong = _boot("pong.s", port)
    ping = _boot("ping.s", port)
    try:
        out_ping, err_ping = ping.communicate(timeout=60)
        out_pong, err_pong = pong.communicate(timeout=60)
    finally:
        for p in (ping, pong):
            p.kill()
    assert ping.returncode == 0 and pong.returncode == 0, (err_ping, err_pong)
    assert out_ping.count("round trip") == 6 and out_pong == "pong: answered 5 pings\n"
    assert "5 wire: received" in err_ping and "5 wire: sent" in err_pong


def test_frames_from_the_wire_are_checked():
    """A peer that lies: bad sizes, somebody else's source address, an address it did not
    announce. Each is dropped and counted; the honest frames still get their answers."""
    port = free_port()
    pong = _boot("pong.s", port)
    me = b"\x02\xaa\xbb\xcc\xdd\xee"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline, "hv did not listen"
                time.sleep(0.05)
        s.settimeout(20)
        s.sendall(b"HVNET1" + bytes([1]) + me)
        hello = b""
        while len(hello) < 13:
            hello += s.recv(13 - len(hello))
        assert hello == b"HVNET1\x01" + mac_for("pong")

        def frame(body):
            s.sendall(struct.pack(">H", len(body)) + body)
        bcast = b"\xff" * 6
        frame(b"short")                                       # shorter than a header
        frame(bcast + me + b"\x88\xb5" + b"x" * 2000)         # longer than 1514
        frame(bcast + mac_for("pong") + b"\x88\xb5" + b"spoof")   # pong's own address
        frame(bcast + b"\x02\x01\x02\x03\x04\x05" + b"\x88\xb5" + b"unannounced")
        answers = []
        buf = b""
        for i in range(5):                                    # one at a time: pong's ring holds 4
            frame(bcast + me + b"\x88\xb5" + struct.pack("<I", i))
            while len(answers) <= i:
                chunk = s.recv(4096)
                assert chunk, ("link closed early", pong.communicate(timeout=30))
                buf += chunk
                while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
                    n = struct.unpack(">H", buf[:2])[0]
                    answers.append(buf[2:2 + n])
                    buf = buf[2 + n:]
        assert [a[:6] for a in answers] == [me] * 5
        assert [struct.unpack("<I", a[14:18])[0] for a in answers] == list(range(5))
        out, err = pong.communicate(timeout=30)
    finally:
        pong.kill()
        s.close()
    assert pong.returncode == 0 and out == "pong: answered 5 pings\n"
    assert "2 wire: dropped, bad length" in err
    assert "2 wire: dropped, bad source address" in err


def test_peer_that_never_comes():
    r = subprocess.run(HV + ["boot", str(MOB / "pong.s"), "--net-peer",
                             f"tcp:127.0.0.1:{free_port()}", "--net-wait", "0.5"],
                       capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert r.returncode == 2 and "no network peer joined" in r.stderr


# --- the OS's send and recv ---------------------------------------------------------------

def test_os_client_asks_server_on_another_machine():
    port = free_port()
    common = ["--hv", "--net-peer", f"tcp:127.0.0.1:{port}", "--net-wait", "20",
              "--max-steps", "50000000"]
    server = subprocess.Popen(HV + ["os", str(MOB / "server.s"), *common],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        client = subprocess.run(HV + ["os", str(MOB / "client.s"), *common],
                                capture_output=True, text=True, timeout=120, cwd=ROOT)
        out, err = server.communicate(timeout=60)
    finally:
        server.kill()
    assert client.returncode == 0, client.stderr
    assert client.stdout == ("client: the server says 3 squared is 9\n"
                             "client: the server says 4 squared is 16\n"
                             "client: the server says 5 squared is 25\n")
    assert server.returncode == 0 and out == "server: answered 3 requests\n", err


def test_os_send_without_network(tmp_path):
    prog = tmp_path / "nonet.s"
    prog.write_text('.include "user.s"\n.include "unet.s"\nmain:\n    li r1, buf\n    li r2, 18\n'
                    '    call net_send\n    mov r8, r1\n    li r1, buf\n    li r2, 5\n    sys 19\n'
                    '    add r1, r1, r8\n    li r2, 0\n    sub r1, r2, r1\n    ret\nbuf: .space 32\n')
    r = subprocess.run(HV + ["os", str(prog)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2, (r.stdout, r.stderr)          # -(-1 + -1): both calls say "no network"
    r = subprocess.run(HV + ["os", str(prog), "--net-peer", "tcp:127.0.0.1:1"], capture_output=True,
                       text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2 and "--net-peer needs --hv" in r.stderr
