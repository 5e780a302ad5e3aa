"""`hv debug`: the gdb-style command line, driven from a pipe, on both cores, bare and
under the hypervisor."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from hv.cli import main
from vcpu.cores import available_kinds

ROOT = Path(__file__).resolve().parent.parent
FIB = str(ROOT / "guests" / "fib.s")


def debug(args, script, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(script))
    status = main(["debug", *args])
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.fixture
def prog(tmp_path):
    from tests.test_debugger import PROGRAM
    p = tmp_path / "prog.s"
    p.write_text(PROGRAM)
    return str(p)


@pytest.mark.parametrize("core", available_kinds())
@pytest.mark.parametrize("hv", [False, True], ids=["bare", "hv"])
def test_session(core, hv, prog, monkeypatch, capsys):
    script = "\n".join([
        "break work", "continue", "continue", "bt", "info registers r1 pc status",
        "reverse-continue", "print r10", "stepi", "reverse-stepi", "next",
        "watch counter", "continue", "delete", "tbreak prog.s:22", "continue",
        "reverse-step", "goto 100", "x/2i pc", "info breakpoints", "quit"])
    args = [prog, "--core", core] + (["--hv"] if hv else [])
    status, out, err = debug(args, script, monkeypatch, capsys)
    assert status == 0 and err == ""
    assert "Breakpoint 1 at 0x00000050: work at prog.s:24" in out
    assert out.count("Breakpoint 1, work\n0x00000050 in work at prog.s:24") == 3
    assert "[icount 22]" in out and "#1  0x0000001a in loop+0x2 at prog.s:12" in out
    assert "$ = 0" in out
    assert "Old value = 0\nNew value = 3" in out
    assert "Temporary breakpoint 3, loop+0x37" in out
    assert "0x0000004c in loop+0x34 at prog.s:21" in out        # reverse-step: the out line
    assert out.count("A") == 1                                    # console output shown once
    assert "[icount 100]" in out
    assert "No breakpoints or watchpoints." in out
    if hv:
        assert "guest (virtual)" not in out          # only with a full `info registers`


def test_views_and_errors(monkeypatch, capsys):
    script = "\n".join([
        "info registers", "info tlb", "info pagetable 0x1000", "info exits",
        "x/s s_fib", "x/4xb main", "print/x 255", "print *",
        "break nowhere", "frobnicate", "help reverse-step", "catch exit", "thread 2",
        "info threads", "list fib", "disassemble fib", "info checkpoints", "quit"])
    status, out, err = debug([FIB, "--hv", "--core", "py"], script, monkeypatch, capsys)
    assert status == 0
    assert "guest (virtual)" in out and "status    0x00000001    0x00000004" in out
    assert "real TLB" in out
    assert "shadow tables (what the real CPU walks)" in out
    assert "0x00000000 <main>:\t0x02\t0xa0" in out
    assert "$ = 0xff" in out
    assert "expression ends too early" in out
    assert "no symbol, line or address 'nowhere'" in out
    assert 'Undefined command: "frobnicate"' in out
    assert "back to the start of the previous source line" in out
    assert "Catchpoint 1 (hypervisor exit)" in out
    assert "Invalid thread ID: 2" in out
    assert "Dump of assembler code for fib:" in out and "=> " not in out.split("Dump")[1][:10]
    assert "checkpoints" in out


def test_bad_program_and_cpus_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.s"
    bad.write_text("frob r1\n")
    for args, text in (([str(bad)], "unknown mnemonic"),
                       ([FIB, "--cpus", "2", "--hv", "--quantum", "0"], "--quantum"),
                       ([FIB, "--cpus", "17"], "--cpus"),
                       ([str(tmp_path / "none.s")], "no such file")):
        r = subprocess.run([sys.executable, "-m", "hv", "debug", *args], input="quit\n",
                           capture_output=True, text=True, cwd=ROOT)
        assert r.returncode != 0 and text in r.stderr and "Traceback" not in r.stderr


PANIC = str(ROOT / "guests" / "debug" / "panic.s")


@pytest.mark.parametrize("mode", [[], ["--hv"], ["--hv", "--virt", "hw"],
                                  ["--hv", "--virt", "hw", "--paging", "nested"]],
                         ids=["bare", "hv", "hw-shadow", "hw-nested"])
def test_worked_example_of_the_docs(mode, monkeypatch, capsys):
    """docs/debugging.md: a kernel that crashes in a user program's system call, found by
    reverse-continue from the crash; the same under each way of virtualizing it."""
    script = "\n".join([
        "continue", "catch trap pagefault", "reverse-continue", "print/x r1",
        "info pagetable r6", "backtrace", "delete", "catch syscall 2", "reverse-continue",
        "print/x r10", "x/5xw messages", "reverse-step", "quit"])
    core = available_kinds()[0]
    status, out, err = debug([PANIC, "--core", core] + mode, script, monkeypatch, capsys)
    if "nested" in mode:
        # the guest's walk faults: there is no guest-physical address to look up
        assert "nested paging: the host's table of guest frames" in out
        assert "no guest-physical address" in out
    assert status == 0 and err == ""
    assert "panic: trap cause 5 at pc 0x00000100, address 0xffffffff" in out
    assert "[machine stopped: powered off (status 1)]" in out
    assert ("Catchpoint 1 (trap: page fault on read, badaddr 0xffffffff)\n"
            "0x00000100 in write_loop+0x3 at panic.s:101  [icount 350]") in out
    assert "$ = 0xffffffff" in out and "-> fault: directory entry not present" in out
    # The shadow call stack goes through the system call into the user program.
    assert ("#1  0x000000d8 in do_write at panic.s:82\n"
            "#2  0x0000501e in user_loop+0x12 [syscall 2, user mode] at panic.s:143") in out
    assert ("Catchpoint 2 (syscall 2)\n"
            "0x0000501e in user_loop+0x12 at panic.s:143  [icount 332]") in out
    assert "$ = 0x6010" in out and "0x00006010 <messages+0x10>:\t0xffffffff" in out
    assert "0x00005018 in user_loop+0xc at panic.s:142  [icount 331]" in out
    assert out.count("panic:") == 1


def test_bad_commands_never_end_the_session(prog, monkeypatch, capsys):
    bad = ["undisplay x", "goto abc", "x/4xw", "x/zz 0", "info pagetable", "thread 0",
           "thread abc", "condition 9 r1", "delete x", "break *", "watch", "watch 0,0",
           "catch", "catch trap bogus", "until nowhere", "list 99999", "x/s 0xfffffff0",
           "print 1/0", "stepi -1", "reverse-stepi 0", "info", "continue 0", "help nosuch",
           "info pagetable 0x", "print (1", "x/3i 0xfffffffe", "tbreak", "goto -1"]
    status, out, err = debug([prog], "\n".join(bad + ["print 42", "quit"]), monkeypatch, capsys)
    assert status == 0 and "$ = 42" in out
    assert "internal error" not in out and "Traceback" not in out + err
    assert "[icount 0]" in out and "machine stopped" not in out     # nothing ran away
    assert "Cannot access memory at address 0xfffffff0" in out
    assert "goto takes an instruction count >= 0" in out


def test_reverse_finish_in_the_outermost_function(prog, monkeypatch, capsys):
    status, out, err = debug([prog], "continue\nreverse-finish\nquit", monkeypatch, capsys)
    assert "No more reverse-execution history." in out


def test_tab_completion_and_enter_repeats(prog):
    from asm.loader import load_program
    from debugger.engine import Debugger
    from debugger.repl import Repl
    out = io.StringIO()
    r = Repl(Debugger(load_program(prog), program=prog), out=out, interactive=True)
    assert [r.complete("reverse-s", i) for i in range(3)] == ["reverse-step", "reverse-stepi",
                                                            None]
    assert r.complete("wor", 0) == "work" and r.complete("zzz", 0) is None
    r.one("stepi")
    r.one("")                      # Enter repeats the last command
    assert "[icount 2]" in out.getvalue()


def test_the_same_session_bare_and_virtualized(monkeypatch, capsys):
    """The sample kernel (paging, user tasks, timer) debugged on the bare machine and
    under the hypervisor: every stop, register, backtrace and watch is the same."""
    kernel = str(ROOT / "guests" / "kernel.s")
    script = "\n".join(["break sys_write", "continue", "continue", "bt", "reverse-continue",
                        "info registers r1 r2 pc", "reverse-stepi", "bt", "delete", "watch ticks",
                        "continue", "reverse-continue", "x/4xw sp", "quit"])
    core = available_kinds()[0]
    _, bare, _ = debug([kernel, "--core", core], script, monkeypatch, capsys)
    _, virt, _ = debug([kernel, "--core", core, "--hv"], script, monkeypatch, capsys)
    strip = lambda out: out.split("\n", 1)[1]          # the banner names the mode
    assert strip(bare) == strip(virt)
    assert "[syscall 1, user mode]" in bare and "New value = " in bare


@pytest.mark.parametrize("hv", [False, True], ids=["bare", "hv"])
def test_several_cpus_are_threads(hv, tmp_path, monkeypatch, capsys):
    from tests.test_debugger import SMP
    prog = tmp_path / "smp.s"
    prog.write_text(SMP)
    script = "\n".join(["break work", "continue", "continue", "info threads", "thread 1",
                        "print cpuid", "reverse-continue", "step", "delete",
                        "finish", "watch total", "continue", "info registers", "quit"])
    status, out, err = debug([str(prog), "--cpus", "2", "--quantum", "5", *(["--hv"] * hv)],
                             script, monkeypatch, capsys)
    assert status == 0 and err == ""
    assert "[Thread 1 (cpu 0)]\nBreakpoint 1, work" in out
    assert "[Thread 2 (cpu 1)]\nBreakpoint 1, work" in out
    assert "  1    cpu 0" in out and "* 2    cpu 1" in out
    assert "$ = 0" in out and "[slot " in out
    assert "work+0x2 at smp.s:30" in out            # step: the selected CPU's next line
    assert "Run till exit from" in out and "Hardware watchpoint 2: total" in out
    assert ("guest (virtual)" in out) == hv        # virtual and real, per vCPU


def test_guest_mode_options_need_hv(prog, monkeypatch, capsys):
    status, out, err = debug([prog, "--virt", "hw"], "quit\n", monkeypatch, capsys)
    assert status != 0 and "give --hv too" in err and "Traceback" not in err
    status, out, err = debug([prog, "--hv", "--paging", "nested"], "quit\n", monkeypatch,
                             capsys)
    assert status != 0 and "--paging nested needs --virt hw" in err
