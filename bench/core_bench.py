"""Core benchmark: guest MIPS of the native and the reference core, side by side, against
the same algorithms in C (bench/cloop.c, compiled at -O2 on the fly), and the cost of an
exit round trip (run() returning IO_OUT and being called again).

    python -m bench.core_bench [--seconds 1.0]

Guest programs are built with vcpu.isa.encode:
  loop   5-instruction counted loop (add, xor, sub, add, bne)
  fib    recursive fib (call/ret, push/pop)
  sieve  sieve of Eratosthenes over bytes (ldb/stb)
  mem    a[i] = a[i] + i over 64 KiB of words with paging on (identity-mapped)
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from vcpu.cores import make_core, native_available
from vcpu.isa import BY_OPCODE, INSTRUCTIONS, Exit, encode

NAMES = {i.name: i for i in INSTRUCTIONS}
HERE = Path(__file__).resolve().parent
KM, PG = 1, 4


def E(name: str, **f) -> bytes:
    return encode(NAMES[name], **f)


class Asm:
    """A tiny two-pass assembler over vcpu.isa.encode: labels resolve on the second pass."""

    def __init__(self, org: int):
        self.org = org
        self.code = bytearray()
        self.labels: dict[str, int] = {}
        self.new_labels: dict[str, int] = {}

    @property
    def here(self) -> int:
        return self.org + len(self.code)

    def label(self, name: str) -> None:
        self.new_labels[name] = self.here

    def at(self, name: str) -> int:
        return self.labels.get(name, 0)

    def __call__(self, name: str, **f) -> None:
        self.code += E(name, **f)


def _prog(org: int, body) -> bytes:
    a = Asm(org)
    labels: dict[str, int] = {}
    for _ in range(2):
        a.code = bytearray()
        a.labels = labels
        a.new_labels = {}
        body(a)
        labels = a.new_labels
    return bytes(a.code)


# --- guest programs ---------------------------------------------------------------------

ORG = 0x100


def prog_loop(n: int) -> bytes:
    def body(a):
        a("li", x=1, imm=n)
        a.label("loop")
        a("add_i", x=2, y=2, imm=1)
        a("xor_r", x=3, y=3, z=2)
        a("sub_i", x=1, y=1, imm=1)
        a("add_r", x=4, y=4, z=3)
        a("bne", x=1, y=0, imm=a.at("loop"))
        a("halt")
    return _prog(ORG, body)


def prog_fib(n: int) -> bytes:
    def body(a):
        a("li", x=14, imm=2)
        a("li", x=1, imm=n)
        a("call_i", imm=a.at("fib"))
        a("halt")
        a.label("fib")
        a("blt", x=1, y=14, imm=a.at("base"))
        a("push", x=1)
        a("sub_i", x=1, y=1, imm=1)
        a("call_i", imm=a.at("fib"))
        a("pop", x=1)
        a("push", x=2)
        a("sub_i", x=1, y=1, imm=2)
        a("call_i", imm=a.at("fib"))
        a("pop", x=3)
        a("add_r", x=2, y=2, z=3)
        a("ret")
        a.label("base")
        a("mov", x=2, y=1)
        a("ret")
    return _prog(ORG, body)


SIEVE_BUF = 0x1000


def prog_sieve(n: int) -> bytes:
    def body(a):
        a("li", x=1, imm=2)
        a("li", x=5, imm=n)
        a("li", x=6, imm=1)
        a.label("init")
        a("stb", x=6, y=1, imm=SIEVE_BUF)
        a("add_i", x=1, y=1, imm=1)
        a("blt", x=1, y=5, imm=a.at("init"))
        a("li", x=1, imm=2)
        a.label("outer")
        a("mul_r", x=7, y=1, z=1)
        a("bgeu", x=7, y=5, imm=a.at("count"))
        a("ldb", x=8, y=1, imm=SIEVE_BUF)
        a("beq", x=8, y=0, imm=a.at("next"))
        a("mov", x=9, y=7)
        a.label("inner")
        a("stb", x=0, y=9, imm=SIEVE_BUF)
        a("add_r", x=9, y=9, z=1)
        a("blt", x=9, y=5, imm=a.at("inner"))
        a.label("next")
        a("add_i", x=1, y=1, imm=1)
        a("jmp_i", imm=a.at("outer"))
        a.label("count")
        a("li", x=1, imm=2)
        a("li", x=10, imm=0)
        a.label("cnt")
        a("ldb", x=8, y=1, imm=SIEVE_BUF)
        a("add_r", x=10, y=10, z=8)
        a("add_i", x=1, y=1, imm=1)
        a("blt", x=1, y=5, imm=a.at("cnt"))
        a("halt")
    return _prog(ORG, body)


MEM_ARR = 0x10000
MEM_WORDS = 16384          # 64 KiB: 16 pages, all in the TLB
MEM_SIZE = 0x40000         # 256 KiB, identity-mapped
PT_DIR, PT_TABLE = 0x3000, 0x4000


def prog_mem(passes: int) -> bytes:
    def body(a):
        a("li", x=6, imm=passes)
        a.label("pass")
        a("li", x=1, imm=0)
        a("li", x=4, imm=0)
        a("li", x=5, imm=MEM_WORDS * 4)
        a.label("loop")
        a("ld", x=2, y=1, imm=MEM_ARR)
        a("add_r", x=2, y=2, z=4)
        a("st", x=2, y=1, imm=MEM_ARR)
        a("add_i", x=4, y=4, imm=1)
        a("add_i", x=1, y=1, imm=4)
        a("bne", x=1, y=5, imm=a.at("loop"))
        a("sub_i", x=6, y=6, imm=1)
        a("bne", x=6, y=0, imm=a.at("pass"))
        a("halt")
    return _prog(ORG, body)


def _identity_map(mem: bytearray) -> None:
    mem[PT_DIR:PT_DIR + 4] = (PT_TABLE | 7).to_bytes(4, "little")
    for vpn in range(len(mem) // 4096):
        mem[PT_TABLE + vpn * 4:PT_TABLE + vpn * 4 + 4] = (vpn << 12 | 7).to_bytes(4, "little")


def _boot(kind: str, code: bytes, mem_size: int = 1 << 20, paging: bool = False):
    core = make_core(kind, mem_size=mem_size)
    core.mem[ORG:ORG + len(code)] = code
    core.pc = ORG
    core.regs[15] = mem_size
    core.cr[0] = KM
    if paging:
        _identity_map(core.mem)
        core.cr[5] = PT_DIR
        core.cr[0] = KM | PG
    return core


def _time_run(core) -> tuple[float, int]:
    t0 = time.perf_counter()
    while True:
        ex = core.run(1 << 40)
        if ex.reason != Exit.BUDGET:
            break
    dt = time.perf_counter() - t0
    if ex.reason != Exit.HALT:
        raise RuntimeError(f"benchmark guest stopped with {ex.describe()}")
    return dt, core.icount


# per workload: program builder, size for the native core, size for the reference core,
# iterations as a function of the size, paging, memory size
FIB_CALLS = {}


def _fib_calls(n: int) -> int:
    if n not in FIB_CALLS:
        a, b = 1, 1          # calls(n) = calls(n-1) + calls(n-2) + 1, calls(0)=calls(1)=1
        for _ in range(n - 1):
            a, b = b, a + b + 1
        FIB_CALLS[n] = b if n >= 1 else 1
    return FIB_CALLS[n]


WORKLOADS = {
    "loop": dict(build=prog_loop, c_size=200_000_000, py_size=200_000, iters=lambda n: n,
                 cloop=("loop", 1_000_000_000)),
    "fib": dict(build=prog_fib, c_size=32, py_size=17, iters=_fib_calls, cloop=("fib", 35)),
    "sieve": dict(build=prog_sieve, c_size=200_000, py_size=20_000, iters=lambda n: 1,
                  cloop=("sieve", 200_000)),
    "mem": dict(build=prog_mem, c_size=400, py_size=2, iters=lambda n: n * MEM_WORDS,
                paging=True, mem_size=MEM_SIZE, cloop=("mem", MEM_WORDS)),
}


def run_guest(kind: str, name: str, size: int | None = None, repeat: int = 1) -> dict:
    """Run one workload on one core (best of `repeat` runs)."""
    w = WORKLOADS[name]
    n = size if size is not None else (w["c_size"] if kind == "c" else w["py_size"])
    code = w["build"](n)
    dt = float("inf")
    for _ in range(repeat):
        core = _boot(kind, code, mem_size=w.get("mem_size", 1 << 20),
                     paging=w.get("paging", False))
        t, icount = _time_run(core)
        dt = min(dt, t)
    iters = w["iters"](n)
    return {"bench": name, "core": kind, "size": n, "instructions": icount, "seconds": dt,
            "mips": icount / dt / 1e6, "ns_per_iter": dt / iters * 1e9,
            "instr_per_iter": icount / iters}


def compile_cloop(tmp: str) -> str | None:
    cc = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
    if not cc:
        return None
    exe = os.path.join(tmp, "cloop")
    r = subprocess.run([cc, "-O2", "-o", exe, str(HERE / "cloop.c")], capture_output=True,
                       text=True)
    return exe if r.returncode == 0 else None


def run_cloop(exe: str, name: str) -> dict:
    kernel, n = WORKLOADS[name]["cloop"]
    best = None
    for _ in range(3):
        out = subprocess.run([exe, kernel, str(n)], capture_output=True, text=True, check=True)
        _, iters, secs = out.stdout.split()
        if best is None or float(secs) / int(iters) < best[1] / best[0]:
            best = (int(iters), float(secs))
    iters, secs = best
    return {"bench": name, "core": "native C -O2", "size": n, "seconds": secs,
            "ns_per_iter": secs / iters * 1e9}


def exit_round_trip(kind: str, n: int) -> dict:
    """ns per run() call that returns IO_OUT and is called again (guest: out; jmp)."""
    code = E("out", x=1, port=0x10) + E("jmp_i", imm=ORG)
    core = _boot(kind, code, mem_size=65536)
    run = core.run
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            run(1 << 30)
        best = min(best, (time.perf_counter() - t0) / n)
    res = {"bench": "exit round trip", "core": kind, "calls": n, "ns_per_exit": best * 1e9}
    if kind == "c":
        # the C side alone: the cffi call with the GIL released, no VMExit object
        cpu, f = core._cpu, core._run
        t0 = time.perf_counter()
        for _ in range(n):
            f(cpu, 1 << 30)
        res["ns_raw_call"] = (time.perf_counter() - t0) / n * 1e9
    return res


def run_core_bench(seconds_hint: float = 1.0, kinds=None, out=print) -> list[dict]:
    """Run every workload on the native core, the reference core and native C; return one
    dict per measurement and print a summary with the ratios."""
    kinds = kinds or (["c", "py"] if native_available() else ["py"])
    scale = max(seconds_hint, 0.05)
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        exe = compile_cloop(tmp)
        for name, w in WORKLOADS.items():
            row = {}
            for kind in kinds:
                base = w["c_size"] if kind == "c" else w["py_size"]
                size = base if name == "fib" else max(1, int(base * scale))
                r = run_guest(kind, name, size, repeat=3 if kind == "c" else 1)
                results.append(r)
                row[kind] = r
            if exe:
                r = run_cloop(exe, name)
                results.append(r)
                row["C"] = r
            out(_summary(name, row))
        for kind in kinds:
            r = exit_round_trip(kind, 200_000 if kind == "c" else 20_000)
            results.append(r)
            extra = f" (C call alone {r['ns_raw_call']:.0f} ns)" if "ns_raw_call" in r else ""
            out(f"{'exit round trip':>8} {kind:>3}: {r['ns_per_exit']:8.0f} ns per run() "
                f"returning IO_OUT{extra}")
        if not exe:
            out("(no C compiler: the native C comparison was skipped)")
    return results


def _summary(name: str, row: dict) -> str:
    parts = [f"{name:>8}"]
    if "c" in row:
        parts.append(f"c {row['c']['mips']:8.1f} MIPS")
    if "py" in row:
        parts.append(f"py {row['py']['mips']:6.2f} MIPS")
    if "c" in row and "py" in row:
        parts.append(f"c/py {row['c']['mips'] / row['py']['mips']:6.0f}x")
    if "C" in row:
        ref = row.get("c") or row.get("py")
        parts.append(f"C {row['C']['ns_per_iter']:.2f} ns/iter")
        if ref:
            parts.append(f"core {ref['ns_per_iter']:.2f} ns/iter "
                         f"({ref['ns_per_iter'] / row['C']['ns_per_iter']:.1f}x C)")
    return " | ".join(parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=1.0, help="rough scale of each run")
    p.add_argument("--core", choices=["c", "py"], action="append")
    a = p.parse_args(argv)
    run_core_bench(a.seconds, a.core)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
