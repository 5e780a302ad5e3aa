"""Figures for docs/mobility.md: `python -m mobility.figures`.

- fetch latency of the repository: host ms per fetch from a directory and over HTTP (the
  repository device's work), and what an exec costs the OS in guest instructions when the
  program is on the disk (cached) and when it must be fetched first (uncached);
- network round trip in guest instructions and host ms, within one host and across two
  processes, and the switch's throughput in frames per second.

Every server and peer runs on 127.0.0.1. Figures are medians of a few runs.
"""
from __future__ import annotations

import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MOB = ROOT / "guests" / "mobility"
HV = [sys.executable, "-m", "hv"]


def _median_ms(fn, n=20) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def fetch_figures(repo: Path) -> list[tuple[str, str]]:
    from mobility import serve, store
    src = store.Source(str(repo))
    assert src.fetch("hello_user", 1 << 20).status == 0
    rows = [("fetch from a directory (host ms)", f"{_median_ms(lambda: src.fetch('hello_user', 1 << 20)):.3f}")]
    srv = serve.make_server(str(repo), "127.0.0.1", 0, quiet=True)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/"
        web = store.Source(url)
        assert web.fetch("hello_user", 1 << 20).status == 0
        rows.append(("fetch over HTTP, hv repo serve (host ms)",
                     f"{_median_ms(lambda: web.fetch('hello_user', 1 << 20)):.3f}"))
    finally:
        srv.shutdown()
        srv.server_close()
    return rows


def _hv_os(args) -> tuple[int, float]:
    t = time.perf_counter()
    r = subprocess.run(HV + ["os", *args, "--hv", "--stats"], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    ms = (time.perf_counter() - t) * 1000
    m = re.search(r"guest instructions\s+([\d,]+)", r.stderr)
    assert r.returncode == 7 and m, r.stderr
    return int(m.group(1).replace(",", "")), ms


def exec_figures(repo: Path, tmp: Path) -> list[tuple[str, str]]:
    init = tmp / "init.s"
    init.write_text('.include "user.s"\nmain:\n    li r1, name\n    call exec\n    ret\n'
                    'name: .asciz "hello_user"\n')
    cases = {"on the disk (cached)": [str(init), str(MOB / "hello_user.s")],
             "fetched from the repository (uncached)": [str(init), "--repo", str(repo)]}
    out = {}
    for what, args in cases.items():
        runs = [_hv_os(args) for _ in range(3)]
        out[what] = (runs[0][0], statistics.median(r[1] for r in runs))
    (i0, m0), (i1, m1) = out.values()
    return [("hv os, exec of a program on the disk (guest instructions, whole run)", f"{i0:,}"),
            ("hv os, exec of a program fetched first (guest instructions, whole run)", f"{i1:,}"),
            ("an uncached exec costs more by (guest instructions)", f"{i1 - i0:,}")]


def _ping_pong_host(core="c"):
    from asm.assembler import assemble_file
    from hypervisor.host import Host, frames_needed
    from mobility.net import Switch
    host = Host(2 * frames_needed(65536) * 4096)
    for n in ("ping", "pong"):
        host.add(n, assemble_file(MOB / f"{n}.s"), mem_size=65536, core=core)
    sw = Switch()
    for vm in host.vms:
        sw.attach(vm)
    host.net = sw
    t = time.perf_counter()
    host.run()
    ms = (time.perf_counter() - t) * 1000
    return host, sw, ms


def net_figures() -> list[tuple[str, str]]:
    rows = []
    host, sw, _ = _ping_pong_host()
    rtt = re.search(r"average round trip (\d+)", host.vms[0].output.decode()).group(1)
    rows.append(("round trip within one host (guest instructions)", rtt))
    ms = statistics.median(_ping_pong_host()[2] for _ in range(5))
    rows.append(("round trip within one host (host ms, 5 pings / 5)", f"{ms / 5:.3f}"))
    # Across two processes: two hv processes; then a peer in this process, timed.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pong = subprocess.Popen(HV + ["boot", str(MOB / "pong.s"), "--net-peer",
                                  f"tcp:127.0.0.1:{port}"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    ping = subprocess.run(HV + ["boot", str(MOB / "ping.s"), "--net-peer",
                                f"tcp:127.0.0.1:{port}"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    pong.communicate(timeout=60)
    rtt = re.search(r"average round trip (\d+)", ping.stdout).group(1)
    rows.append(("round trip across two processes (guest instructions)", rtt))
    rows.append(("round trip across two processes (host ms)", f"{_wire_rtt_ms():.3f}"))
    frames = []
    for _ in range(3):
        from asm.assembler import assemble_file
        from hypervisor.host import Host, frames_needed
        from mobility.net import Switch
        host = Host(2 * frames_needed(65536) * 4096)
        for n in ("flood", "pong"):
            host.add(n, assemble_file(MOB / f"{n}.s"), mem_size=65536, core="c")
        sw = Switch()
        for vm in host.vms:
            sw.attach(vm)
        host.net = sw
        t = time.perf_counter()
        host.run()
        frames.append(sw.stats["sent"] / (time.perf_counter() - t))
    rows.append(("switch throughput, 1514-byte frames (frames/s)", f"{statistics.median(frames):,.0f}"))
    return rows


def _wire_rtt_ms() -> float:
    """A peer in this process pings `hv boot pong.s` over the wire: host ms per round trip."""
    from mobility.net import mac_for
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pong = subprocess.Popen(HV + ["boot", str(MOB / "pong.s"), "--net-peer",
                                  f"tcp:127.0.0.1:{port}"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    me = b"\x02\x10\x20\x30\x40\x50"
    deadline = time.monotonic() + 20
    while True:
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    c.settimeout(20)
    c.sendall(b"HVNET1\x01" + me)
    got = b""
    while len(got) < 13:
        got += c.recv(13 - len(got))
    assert got[7:] == mac_for("pong")
    times = []
    for i in range(5):
        frame = b"\xff" * 6 + me + b"\x88\xb5" + struct.pack("<I", i)
        t = time.perf_counter()
        c.sendall(struct.pack(">H", len(frame)) + frame)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
            buf += c.recv(4096)
        times.append((time.perf_counter() - t) * 1000)
    c.close()
    pong.communicate(timeout=30)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        repo = tmp / "repo"
        subprocess.run(HV + ["repo", "add", str(repo), str(MOB / "hello_user.s")], check=True,
                       capture_output=True, cwd=ROOT, timeout=60)
        rows = fetch_figures(repo) + exec_figures(repo, tmp) + net_figures()
    width = max(len(r[0]) for r in rows)
    print("| figure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")


if __name__ == "__main__":
    main()
