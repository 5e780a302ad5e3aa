"""Peak memory of a flooding guest: `hv boot` with guests/hostile/flood.s beside fib.s for a
fixed wall time, without and with tracing (Perfetto JSON and JSON Lines). The host keeps a
bounded tail of each console and streams traces and console logs to their files, so the
peak RSS must not grow with the run's length.

    python -m bench.memory [--seconds 60] [--short 6]

It runs each configuration for `--short` and for `--seconds` seconds (stopped by --timeout,
which also checks that the trace is then closed as a valid file) and prints the peak RSS of
the `hv` process (wait4's ru_maxrss), the trace size and the time the stop took.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(seconds: float, trace: str | None, tmp: str) -> dict:
    cmd = [sys.executable, "-m", "hv", "boot", "guests/hostile/flood.s", "guests/fib.s",
           "--timeout", str(seconds), "--console-dir", os.path.join(tmp, "logs")]
    path = None
    if trace:
        path = os.path.join(tmp, f"trace.{trace}")
        cmd += ["--trace", path]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    out = {"seconds": seconds, "trace": trace or "-", "status": os.waitstatus_to_exitcode(status),
           "peak_rss_mib": ru.ru_maxrss / 1024, "wall": wall,
           "stop_s": wall - seconds}
    if path:
        out["trace_mib"] = os.path.getsize(path) / (1 << 20)
        if trace == "json":
            # Checked in another process: a child inherits its parent's peak RSS across
            # fork and exec, so this process must stay small for the next measurement.
            subprocess.run([sys.executable, "-c", "import json, sys; json.load(open(sys.argv[1]))",
                            path], check=True)
        os.unlink(path)
    out["log_mib"] = os.path.getsize(os.path.join(tmp, "logs", "flood.log")) / (1 << 20)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.memory")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--short", type=float, default=6)
    a = ap.parse_args(argv)
    print("| run | trace | exit | peak RSS | trace file | flood.log | wall - timeout |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for trace in (None, "json", "jsonl"):
            for secs in (a.short, a.seconds):
                r = run(secs, trace, tmp)
                print(f"| {secs:g} s | {r['trace']} | {r['status']} | {r['peak_rss_mib']:.0f} MiB "
                      f"| {r.get('trace_mib', 0):.0f} MiB | {r['log_mib']:.1f} MiB "
                      f"| {r['stop_s']:.2f} s |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
