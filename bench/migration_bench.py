"""Figures for strong mobility (`hv bench --only migration`): snapshot and restore of guests
of 64 KiB, 1 MiB and 16 MiB, and live migration of a 1 MiB guest over loopback to a real
`hv boot --incoming` process, idle and while the guest dirties pages continuously, native
to native and native to the reference core.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUESTS = ROOT / "guests"


def _best(fn, repeat):
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        r = fn()
        dt = time.perf_counter() - t
        best = dt if best is None or dt < best else best
    return best, r


def snapshot_figures(quick: bool) -> list[dict]:
    """Capture + write, and read + check + restore, of a bare machine: its memory as a small
    guest leaves it (mostly zero pages) and full of incompressible bytes (the worst case)."""
    from asm.loader import load_program
    from vcpu.machine import Machine
    from vcpu.snapshot import capture_machine, read, restore_machine, write_file
    img = load_program(GUESTS / "hello.s")
    rows = []
    repeat = 1 if quick else 3
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "s.snap")
        for size in (64 << 10, 1 << 20, 16 << 20):
            for fill in ("sample guest", "full, random"):
                m = Machine(img, mem_size=size, core="c")
                m.run(100)
                if fill != "sample guest":
                    rnd = random.Random(size)
                    m.core.mem[:] = rnd.randbytes(size)
                save_s, data = _best(lambda: (write_file(path, capture_machine(m)),
                                              os.path.getsize(path))[1], repeat)
                load_s, _ = _best(lambda: restore_machine(read(path), core="c"), repeat)
                rows.append({"memory": size, "contents": fill, "bytes": data,
                             "save_ms": save_s * 1e3, "restore_ms": load_s * 1e3})
    return rows


def migrate_once(guest: str, mem: int, at: int, dst_core: str, *, max_downtime_ms=5.0):
    """One live migration from this process to a fresh `hv boot --incoming` process."""
    from asm.loader import load_program
    from hypervisor.host import Host, frames_needed
    from hypervisor.migrate import Migration
    dest = subprocess.Popen([sys.executable, "-m", "hv", "boot", "--incoming",
                             "tcp:127.0.0.1:0", "--core", dst_core, "--incoming-timeout",
                             "60"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        port = int(dest.stderr.readline().decode().rsplit(":", 1)[1])
        host = Host(frames_needed(mem) * 4096)
        vm = host.add("g", load_program(GUESTS / guest), mem_size=mem, core="c")
        box = {}

        def go(vm):
            mig = Migration(host, vm, f"tcp:127.0.0.1:{port}",
                            max_downtime=max_downtime_ms / 1000)
            box["ok"] = mig.run()
            box["info"] = mig.info()
            if box["ok"]:
                vm.stop("migrated", "migrated")
        vm.at(at, go)
        host.run()
        dest.wait(timeout=120)
    finally:
        dest.kill()
    info = box.get("info", {})
    info["ok"] = box.get("ok", False)
    return info


def migration_figures(quick: bool) -> list[dict]:
    cases = [("kernel.s, C→C", "kernel.s", 200_000, "c"),
             ("dirty.s, C→C", "dirty.s", 100_000, "c"),
             ("kernel.s, C→Py", "kernel.s", 200_000, "py"),
             ("dirty.s, C→Py", "dirty.s", 100_000, "py")]
    rows = []
    for name, guest, at, core in cases:
        runs = [migrate_once(guest, 1 << 20, at if guest == "dirty.s" else 30_000, core)
                for _ in range(1 if quick else 3)]
        ok = [r for r in runs if r["ok"]]
        if not ok:
            rows.append({"case": name, "failed": runs[0].get("error", "?")})
            continue
        best = min(ok, key=lambda r: r["downtime-ms"])
        worst = max(ok, key=lambda r: r["downtime-ms"])
        rows.append({"case": name, "runs": len(ok), "total_ms": best["total-ms"],
                     "rounds": best["rounds"], "bytes": best["bytes"],
                     "pages": best["pages"], "throttle": best["throttle-percent"],
                     "downtime_ms": best["downtime-ms"], "downtime_worst": worst["downtime-ms"],
                     "downtime_insns": best["downtime-guest-instructions"]})
    return rows


def section(quick: bool, table) -> None:
    snaps = snapshot_figures(quick)
    table("Snapshots of the bare machine (native core; capture+write, read+check+restore)",
          ["memory", "contents", "file bytes", "save ms", "restore ms"],
          [[f"{r['memory'] >> 10:,} KiB", r["contents"], f"{r['bytes']:,}",
            f"{r['save_ms']:.2f}", f"{r['restore_ms']:.2f}"] for r in snaps])
    mig = migration_figures(quick)
    table("Live migration of a 1 MiB guest over loopback (max downtime 5 ms; best of runs, "
          "worst downtime beside it)",
          ["guest", "total ms", "rounds", "pages", "bytes", "throttle",
           "downtime ms", "worst ms", "downtime insns"],
          [[r["case"], "failed: " + r["failed"], "", "", "", "", "", "", ""] if "failed" in r
           else [r["case"], f"{r['total_ms']:.1f}", str(r["rounds"]), f"{r['pages']:,}",
                 f"{r['bytes']:,}", f"{r['throttle']}%", f"{r['downtime_ms']:.2f}",
                 f"{r['downtime_worst']:.2f}", f"{r['downtime_insns']:,}"] for r in mig])
