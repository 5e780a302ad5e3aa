"""Peers side by side, in one run (`hv bench --peers`; needs the `bench` extra:
`pip install 'hv[bench]'`, which brings unicorn and lupa).

- **Counted loop** (add, xor, sub, add, branch: the core benchmark's `loop`): this
  project's C core interpreting it; Unicorn 2 (QEMU's TCG JIT) running the same five
  instructions as RISC-V (RV32I, the closest real ISA to this one); Lua 5.4 embedded through
  lupa running the same loop as a Lua function; and the loop compiled by gcc -O2
  (bench/cloop.c).
- **Trapped instruction**: Unicorn calls a Python hook on one instruction of a loop, the hook
  "emulates" it (writes a register), and the emulation resumes; against this project's
  trap-and-emulate round trip (a privileged `mfcr` in a guest kernel, trapped by the core,
  emulated by the hypervisor in Python). Both are the time difference between the loop with
  and without the trapping instruction, per trap.
"""
from __future__ import annotations

import tempfile
import time

LOOP_N = 20_000_000
TRAP_N = 200_000


def have_peers() -> list[str]:
    missing = []
    for mod in ("unicorn", "lupa"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    return missing


# --- RV32I encodings of the counted loop ------------------------------------------------

def _addi(rd, rs1, imm):
    return ((imm & 0xFFF) << 20) | (rs1 << 15) | (0 << 12) | (rd << 7) | 0x13


def _r(funct3, rd, rs1, rs2):
    return (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | 0x33


def _bne(rs1, rs2, off):
    o = off & 0x1FFF
    return (((o >> 12) & 1) << 31) | (((o >> 5) & 0x3F) << 25) | (rs2 << 20) | (rs1 << 15) \
        | (1 << 12) | (((o >> 1) & 0xF) << 8) | (((o >> 11) & 1) << 7) | 0x63


def rv_loop(trap: bool) -> bytes:
    """x1 counts down; x2..x4 as in the guest loop. With `trap`, one more instruction per
    iteration (addi x5, x0, 0) that the hook emulates."""
    body = [_addi(2, 2, 1), _r(4, 3, 3, 2), _addi(1, 1, -1), _r(0, 4, 4, 3)]
    if trap:
        body.insert(0, _addi(5, 0, 0))
    body.append(_bne(1, 0, -4 * len(body)))
    return b"".join(w.to_bytes(4, "little") for w in body)


BASE = 0x10000


def unicorn_loop(n: int, trap: bool = False) -> float:
    """Seconds for n iterations of the loop in Unicorn (a hook per iteration with trap)."""
    from unicorn import UC_ARCH_RISCV, UC_HOOK_CODE, UC_MODE_RISCV32, Uc
    from unicorn.riscv_const import UC_RISCV_REG_X1, UC_RISCV_REG_X5
    code = rv_loop(trap)
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV32)
    uc.mem_map(BASE, 0x10000)
    uc.mem_write(BASE, code)
    uc.reg_write(UC_RISCV_REG_X1, n)
    count = [0]
    if trap:
        def hook(uc, address, size, user):
            # the "emulation": what mfcr does under the hypervisor, write a register
            count[0] += 1
            uc.reg_write(UC_RISCV_REG_X5, count[0])
        uc.hook_add(UC_HOOK_CODE, hook, begin=BASE, end=BASE)
    t = time.perf_counter()
    uc.emu_start(BASE, BASE + len(code))
    dt = time.perf_counter() - t
    if trap and count[0] != n:
        raise RuntimeError(f"unicorn hook ran {count[0]} times, expected {n}")
    return dt


LUA_LOOP = """
function(n)
    local r2, r3, r4 = 0, 0, 0
    repeat
        r2 = r2 + 1
        r3 = r3 ~ r2
        n = n - 1
        r4 = r4 + r3
    until n == 0
    return r4
end
"""


def _lua():
    # lupa bundles several Lua versions (its default may be newer): ask for 5.4
    from lupa import lua54
    return lua54.LuaRuntime()


def lua_loop(n: int) -> float:
    f = _lua().eval(LUA_LOOP)
    t = time.perf_counter()
    f(n)
    return time.perf_counter() - t


def lua_version() -> str:
    return _lua().eval("_VERSION")


def measure(quick: bool = False) -> dict:
    """Every peer on the counted loop and the trapped instruction, in one run."""
    from . import core_bench, hv_bench
    n = LOOP_N // (10 if quick else 1)
    reps = 1 if quick else 3
    rows = {}
    ours = min((core_bench.run_guest("c", "loop", size=n) for _ in range(reps)),
               key=lambda r: r["seconds"])
    rows["hv C core (interpreter)"] = ours["ns_per_iter"]
    rows["Unicorn 2 JIT (RV32I)"] = min(unicorn_loop(n) for _ in range(reps)) / n * 1e9
    rows[f"{lua_version()} via lupa"] = min(lua_loop(n) for _ in range(reps)) / n * 1e9
    with tempfile.TemporaryDirectory() as tmp:
        exe = core_bench.compile_cloop(tmp)
        if exe:
            rows["gcc -O2 (bench/cloop.c)"] = core_bench.run_cloop(exe, "loop")["ns_per_iter"]
    tn = TRAP_N // (5 if quick else 1)
    plain = min(unicorn_loop(tn) for _ in range(reps))
    hooked = min(unicorn_loop(tn, trap=True) for _ in range(reps))
    tc = hv_bench.trap_costs(tn // 2, reps)
    traps = {"Unicorn: Python hook per trapped instruction": (hooked - plain) / tn * 1e9,
             "hv: trap-and-emulate round trip (mfcr)": tc["emulate_ns"]}
    return {"loop_ns_per_iter": rows, "trap_ns": traps}


if __name__ == "__main__":
    import json
    print(json.dumps(measure(), indent=2))
