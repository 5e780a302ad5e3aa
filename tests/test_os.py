"""The teaching OS (guests/os/): its guest test suite and the `hv os` command.

Each `guests/os/tests/test_*.s` is a user program that prints TAP; it runs as pid 1 under
the OS on both cores, bare and under the hypervisor (a line `; os-programs: a.s b.s` in it
names the other programs to put on the disk; `; os-cpus: 1 4` the CPU counts to run with). The same console
output is required in all four runs: the OS is deterministic, and the hypervisor must not
change what a guest computes.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from hv.commands.os import (OS_DIR, OSError_, build_disk, flatten, kernel_image, load_programs,
                            os_test_meta, run_os)
from guesttest.run import judge
from guesttest.tap import parse_tap
from tests.conftest import need_native

TESTS = sorted((OS_DIR / "tests").glob("test_*.s"))
MAX_STEPS = 30_000_000


_meta = os_test_meta


CASES = [(p, n) for p in TESTS for n in _meta(p)[1]]


_progs_cache: dict = {}
_outputs: dict = {}


def _progs(path: Path):
    if path not in _progs_cache:
        _progs_cache[path] = load_programs(_meta(path)[0])
    return _progs_cache[path]


@pytest.mark.parametrize("mode", ["bare", "hv"])
@pytest.mark.parametrize("core", ["c", "py"])
@pytest.mark.parametrize("path,cpus", CASES, ids=[f"{p.stem}-{n}cpu" for p, n in CASES])
def test_guest_suite(path, cpus, core, mode):
    if core == "c":
        need_native()
    res = run_os(_progs(path), hv=(mode == "hv"), core=core, cpus=cpus, max_steps=MAX_STEPS)
    text = res.output.decode("utf-8", "replace")
    verdict, reason = judge(parse_tap(text), res.kind, res.status, res.message)
    assert verdict == "pass", f"{reason}\n--- console ---\n{text[-3000:]}"
    first = _outputs.setdefault((path, cpus), (f"{core}-{mode}", res.output, res.icount))
    assert res.output == first[1], f"output differs from the {first[0]} run"
    assert res.icount == first[2], f"instruction count differs from the {first[0]} run"


def test_disk_format():
    disk = build_disk([("a", b"\x01" * 700, 0x400000), ("bb", b"\x02", 0x400010)], True)
    assert disk[:4] == b"HVOS"
    import struct
    version, flags, count, dsect, dcount = struct.unpack_from("<5I", disk, 4)
    assert (version, flags, count, dsect, dcount) == (1, 1, 2, 1, 1)
    name, start, size, entry = struct.unpack_from("<20s3I", disk, 512)
    assert (name.rstrip(b"\0"), start, size, entry) == (b"a", 2, 700, 0x400000)
    name, start, size, entry = struct.unpack_from("<20s3I", disk, 544)
    assert (name.rstrip(b"\0"), start, size, entry) == (b"bb", 4, 1, 0x400010)
    assert disk[2 * 512:2 * 512 + 700] == b"\x01" * 700
    assert len(disk) == 5 * 512


@pytest.mark.parametrize("names", [[""], ["x" * 20], ["a", "a"]])
def test_disk_refuses_bad_names(names):
    with pytest.raises(OSError_):
        build_disk([(n, b"x", 0x400000) for n in names])


def test_program_outside_user_space(tmp_path):
    src = tmp_path / "bad.s"
    src.write_text("main: halt\n")          # no user.s: assembled at 0
    with pytest.raises(OSError_, match="user.s"):
        load_programs([str(src)])


def test_kernel_assembles():
    k = kernel_image()
    assert k.size() < 64 * 1024
    assert flatten is not None


# --- the command ------------------------------------------------------------------------

ECHO = """.include "user.s"
main:
    li   r1, buf
    li   r2, 64
    call read
    mov  r2, r1
    li   r1, buf
    call write
    li   r1, 3
    ret
buf: .space 64
"""

SPIN = """.include "user.s"
main:
    jmp  main
"""


def _hv(argv, capsys):
    from hv.cli import main
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_hv_os_runs_pid1_and_exits_with_its_status(tmp_path, capsys):
    (tmp_path / "echo.s").write_text(ECHO)
    status, out, err = _hv(["os", str(tmp_path / "echo.s"), "--input", "hi\\n"], capsys)
    assert (status, out, err) == (3, "hi\n", "")


def test_hv_os_verbose_kernel(tmp_path, capsys):
    (tmp_path / "echo.s").write_text(ECHO)
    status, out, _ = _hv(["os", "--os-verbose", str(tmp_path / "echo.s"), "--input", ""],
                         capsys)
    assert status == 3
    assert "[os] booted" in out and "[os] pid 1 exited with status 3" in out


@pytest.mark.parametrize("extra", [[], ["--hv"]])
def test_hv_os_max_steps(tmp_path, capsys, extra):
    (tmp_path / "spin.s").write_text(SPIN)
    status, out, err = _hv(["os", *extra, "--max-steps", "50000", str(tmp_path / "spin.s")],
                           capsys)
    assert status == 124 and out == "" and "50000" in err


def test_hv_os_user_errors(tmp_path, capsys):
    status, _, err = _hv(["os", str(tmp_path / "missing.s")], capsys)
    assert status == 2 and "missing.s" in err and "Traceback" not in err
    (tmp_path / "bad.s").write_text('.include "user.s"\nmain:\n    lj r1, 2\n')
    status, _, err = _hv(["os", str(tmp_path / "bad.s")], capsys)
    assert status == 1 and "bad.s:3:" in err
    (tmp_path / "raw.s").write_text("main: halt\n")
    status, _, err = _hv(["os", str(tmp_path / "raw.s")], capsys)
    assert status == 2 and "user.s" in err
    (tmp_path / "echo.s").write_text(ECHO)
    with pytest.raises(SystemExit) as e:          # argparse: a usage error
        _hv(["os", "--cpus", "17", str(tmp_path / "echo.s")], capsys)
    assert e.value.code == 2


def test_hv_os_pack(tmp_path, capsys):
    (tmp_path / "echo.s").write_text(ECHO)
    (tmp_path / "a-long-program-name.s").write_text(SPIN)
    disk = tmp_path / "disk.img"
    status, _, _ = _hv(["os", "--pack", str(disk), str(tmp_path / "echo.s"),
                        str(tmp_path / "a-long-program-name.s")], capsys)
    assert status == 0
    raw = disk.read_bytes()
    assert raw[:4] == b"HVOS" and raw[512:516] == b"echo"
    assert raw[544:544 + 19] == b"a-long-program-name"


# --- the demos ----------------------------------------------------------------------------

DEMOS = OS_DIR / "demos"


def _demo(name, **kw):
    res = run_os([str(DEMOS / f"{name}.s")], max_steps=MAX_STEPS, **kw)
    assert res.kind == "poweroff" and res.status == 0, res.message
    rows = {}
    for line in res.output.decode().splitlines()[1:]:
        label, *nums = re.split(r"\s{2,}", line.strip())
        rows[label] = nums
    return res.output, rows


@pytest.mark.parametrize("name,cpus", [("creation", 1), ("switching", 1), ("blocking", 1),
                                       ("multiprocessor", 4)])
def test_demo_same_under_hypervisor(name, cpus):
    need_native()
    bare, rows = _demo(name, core="c", cpus=cpus)
    hv, _ = _demo(name, core="c", cpus=cpus, hv=True)
    assert bare == hv
    if name == "multiprocessor":     # kernel threads ~4x faster on 4 CPUs, user threads not
        speedups = [float(v[1]) for v in rows.values()]
        assert speedups[1] > 3.5 and 0.9 < speedups[2] < 1.1
        return
    nums = [[int(n) for n in v] for v in rows.values()]
    if name == "creation":           # writing child > process > kernel thread > user thread
        assert nums[1][0] > nums[0][0] > 4 * nums[2][0] > 4 * nums[3][0] > 0
    elif name == "switching":        # user-level switch < kernel-level switch <= process
        assert 0 < nums[0][0] < nums[1][0] <= nums[2][0]
    else:                            # ULT siblings stall; KLT siblings run
        assert nums[0] == [0, 0] and min(nums[1]) > 100


ABI_NAMES = {"exit", "write", "read", "fork", "exec", "wait", "getpid", "thread_create",
             "thread_exit", "thread_join", "yield", "sleep", "gettid", "clock", "sbrk",
             "futex_wait", "futex_wake", "puts", "print_dec", "print_hex", "mutex_lock",
             "mutex_unlock", "uthread_create", "uthread_yield", "uthread_exit", "uthread_join"}


def test_user_library_names(tmp_path):
    """Every symbol user.s defines is an ABI name or starts with `__` (brief §9)."""
    src = tmp_path / "p.s"
    src.write_text('.include "user.s"\nmain:\n    ret\n')
    (_, body, entry), = load_programs([str(src)])
    from hv.commands.os import assemble_user
    names = {s.name for s in assemble_user(src).symbols} - {"main"}
    assert ABI_NAMES <= names
    assert not {n for n in names - ABI_NAMES if not n.startswith("__")}
    assert entry == 0x400000 and body[5] == 0x58      # `sys 9` where new threads return


def test_hv_test_runs_os_tests(capsys):
    """`hv test` runs a user-program test under the OS (the other programs it names too)."""
    status, out, err = _hv(["test", str(OS_DIR / "tests" / "test_syscalls.s"), "--core", "c",
                            "--mode", "bare,hv"], capsys)
    assert status == 0, out + err


@pytest.mark.parametrize("mode", ["bare", "hv"])
@pytest.mark.parametrize("cpus", [1, 2, 4])
def test_threads_fork_concurrently(cpus, mode):
    """Six threads fork, wait, lock and grow the heap at once (C core: long on 4 CPUs)."""
    need_native()
    res = run_os([str(OS_DIR / "tests" / "stress_fork.s")], hv=(mode == "hv"), core="c",
                 cpus=cpus, max_steps=60_000_000)
    assert (res.kind, res.status, res.output) == ("poweroff", 0, b"300 120\n"), res.message


def test_hv_os_takes_include_dirs(tmp_path):
    """`.include` looks beside the including file, then in each -I DIR, then in guests/os/
    (brief §2's include path, with hv os adding the directory of user.s)."""
    from tests.hvcli import hv
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "mine.s").write_text('greet: .asciz "found\\n"\n')
    prog = tmp_path / "p.s"
    prog.write_text('.include "user.s"\nmain:\n    li r1, greet\n    call puts\n'
                    '    li r1, 0\n    ret\n.include "mine.s"\n')
    st, out, _ = hv("os", "-I", tmp_path / "lib", prog)
    assert (st, out) == (0, "found\n")
    st, _, err = hv("os", prog)
    assert st == 1 and "mine.s" in err
