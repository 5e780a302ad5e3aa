"""The `hv` command: exit statuses, and a clear one-line error (never a traceback) for bad input.

The tests call `hv.cli.main(argv)` in-process (tests/hvcli.py); a few smoke tests at the
end run `python -m hv` as a real process, for what only a process shows (the console
script, a closed pipe)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.hvcli import ROOT, hv, hv_proc


@pytest.fixture
def src(tmp_path):
    def _w(text, name="p.s"):
        f = tmp_path / name
        f.write_text(text)
        return f
    return _w


def test_hello_greets_both_ways():
    for cmd in ("run", "boot"):
        st, out, _ = hv(cmd, "guests/hello.s")
        assert st == 0 and "Hello" in out


def test_power_off_status_is_the_exit_status(src):
    f = src("li r1, 7\nout 0xff, r1\n")
    assert hv("run", f)[0] == 7
    assert hv("boot", f)[0] == 7


def test_max_steps_stops_a_runaway_guest(src):
    f = src("loop: jmp loop\n")
    for cmd in ("run", "boot"):
        st, _, err = hv(cmd, f, "--max-steps", 1000)
        assert st == 124 and "--max-steps" in err, err


# Every trap goes to evec (0 included); the machine stops only on a kernel-mode fault of
# the instruction at evec itself.
@pytest.mark.parametrize("text,words", [
    ("li r1, 0x7ffffff0\nmtcr evec, r1\njmp r1\n", "page fault on fetch"),
    (".byte 0xee\n", "illegal instruction"),
    ("li r1, d\nmtcr evec, r1\nli r1, 0\nd: div r2, r1, r1\n", "divide by zero"),
])
def test_guest_crash_gives_one_line_reason(src, words, text):
    f = src(text)
    for cmd in ("run", "boot"):
        for core in ("c", "py"):
            st, _, err = hv(cmd, f, "--core", core)
            assert st == 125 and words in err and "pc 0x" in err, (cmd, core, err)
            assert len(err.strip().splitlines()) == 1


def test_missing_file():
    st, _, err = hv("run", "nope.s")
    assert st == 2 and "nope.s" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content,words", [
    (b"\x7fELF" + bytes(60), "not an hv image"),
    (b"HVIM\x01\x00" + bytes(30), "corrupt image"),
])
def test_bad_image_files(tmp_path, content, words):
    f = tmp_path / "x.img"
    f.write_bytes(content)
    for cmd in ("run", "boot", "disasm"):
        st, _, err = hv(cmd, f)
        assert st == 2 and words in err, (cmd, err)


def test_empty_file(tmp_path):
    f = tmp_path / "x.img"
    f.write_bytes(b"")
    st, _, err = hv("run", f)
    assert st == 2 and f"{f}: the file is empty" in err and "nothing to assemble" not in err


def test_truncated_image(tmp_path):
    img = tmp_path / "h.img"
    assert hv("asm", "guests/hello.s", "-o", img)[0] == 0
    img.write_bytes(img.read_bytes()[:-9])
    st, _, err = hv("run", img)
    assert st == 2 and "corrupt" in err


def test_program_bigger_than_memory(src):
    f = src(".org 0x2000\nhalt\n")
    st, _, err = hv("run", f, "--mem", "4K")
    assert st == 2 and "--mem" in err
    st, _, err = hv("boot", f, "--mem", "4K")
    assert st == 2 and "--mem" in err


@pytest.mark.parametrize("size", ["12", "0", "abc", "3G", "5000"])
def test_bad_memory_sizes(size):
    st, _, err = hv("run", "guests/hello.s", "--mem", size)
    assert st == 2 and "--mem" in err


def test_assembler_error_points_at_the_line(src):
    f = src("nop\n  ad r1, r2, r3\n")
    st, _, err = hv("run", f)
    assert st == 1 and f"{f}:2:3: error" in err and "add" in err


def test_boot_stats_reports_efficiency():
    st, out, err = hv("boot", "--stats", "guests/fib.s")
    assert st == 0 and "efficiency" in err and "emulate out" in err


def test_quickstart_command():
    """The README's first command: several guests side by side, with statistics."""
    st, out, err = hv("boot", "--stats", "guests/kernel.s", "guests/fib.s",
                      "guests/sieve.s")
    assert st == 0
    assert "[kernel]" in out and "[fib]" in out and "[sieve]" in out
    assert "efficiency" in err and "total" in err


def test_several_guests_prefix_their_lines():
    st, out, _ = hv("boot", "guests/hello.s", "guests/sieve.s")
    assert st == 0
    lines = out.splitlines()
    assert any(line.startswith("[hello]") for line in lines)
    assert any(line.startswith("[sieve]") for line in lines)
    assert all(line.startswith(("[hello]", "[sieve]")) for line in lines)


def test_trace_destinations_and_show(tmp_path):
    st, _, err = hv("boot", "guests/hello.s", "--trace", tmp_path / "t.txt")
    assert st == 2 and ".jsonl" in err
    t = tmp_path / "t.jsonl"
    assert hv("boot", "guests/hello.s", "--trace", t)[0] == 0
    st, out, _ = hv("trace", "show", t, "--trace-insn", "out")
    assert st == 0 and "out 0x10" in out and "schedule" not in out
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{nope\n")
    st, _, err = hv("trace", "show", bad)
    assert st == 2 and "bad.jsonl:1" in err


def test_disk_and_input_options(tmp_path):
    disk = tmp_path / "d.img"
    disk.write_bytes(bytes(8192))
    st, out, _ = hv("run", "guests/disk.s", "--disk", disk)
    assert st == 0 and disk.read_bytes() != bytes(8192)
    st, out, _ = hv("run", "guests/echo.s", "--input", "hi\\n")
    assert st == 0 and "HI" in out
    st, out, _ = hv("run", "guests/echo.s", input=b"piped\n")
    assert st == 0 and "PIPED" in out


@pytest.mark.parametrize("toml,words", [
    ('[host]\nslice = "x"\n[[guest]]\nimage = "h.s"\n', "slice"),
    ('[host]\nmemory = "12"\n[[guest]]\nimage = "h.s"\n', "multiple of 4K"),
    ('[host]\nmemory = "8K"\n[[guest]]\nimage = "h.s"\n', "cannot hold"),
    ('[[guest]]\nimage = "h.s"\nweight = "heavy"\n', "weight"),
    ('[[guest]]\nname = "x"\n', "no image"),
    ('[host]\nspeed = 3\n', "unknown"),
    ('not toml [', "h.toml"),
])
def test_bad_host_files(tmp_path, toml, words):
    (tmp_path / "h.s").write_text("halt\n")
    f = tmp_path / "h.toml"
    f.write_text(toml)
    st, _, err = hv("boot", "--host", f)
    assert st == 2 and words in err, err


def test_host_file_runs_its_guests(tmp_path):
    (tmp_path / "a.s").write_text("li r1, 3\nout 0xff, r1\n")
    f = tmp_path / "h.toml"
    f.write_text('[host]\nslice = 100\n[[guest]]\nimage = "a.s"\nname = "one"\nmem = "8K"\n'
                 '[[guest]]\nimage = "a.s"\nweight = 2\n')
    st, out, err = hv("boot", "--host", f)
    assert st == 3 and "one" in err and "a " in err


# --- messages and tables ---------------------------------------------------------------------

def test_max_steps_message_says_the_count_once(src):
    f = src("loop: jmp loop\n")
    for args in (("run", f), ("boot", f), ("boot", f, "guests/hello.s")):
        st, _, err = hv(*args, "--max-steps", 1000)
        line = next(ln for ln in err.splitlines() if "--max-steps" in ln)
        assert st == 124 and line.count("1000") == 1, line
        assert "instructions (--max-steps) after" not in err


def test_stats_rows_in_order_and_exits_add_up(src):
    # hello powers off with `halt` (an `emulate halt` row); the other with `out 0xff`.
    f = src("li r1, 0\nout 0xff, r1\n")
    st, _, err = hv("boot", "--stats", f, "guests/hello.s", env={"COLUMNS": "80"})
    assert st == 0
    rows = [ln.split() for ln in err.splitlines()]
    names = [" ".join(w for w in r if not w[0].isdigit()) for r in rows]
    at = {n: i for i, n in enumerate(names)}
    assert at["emulate halt"] < at["emulate out"] < at["memory (KiB)"]
    assert at["efficiency (direct)"] < at["exits (total)"] < at["emulate halt"]
    # exits (total) is the sum of the rows under it, in every column
    i = at["exits (total)"]
    total = [int(v.replace(",", "")) for v in rows[i][2:]]
    parts = [[int(v.replace(",", "")) for v in r if v[0].isdigit()]
             for r in rows[i + 1:at["emulate halt"]]]
    assert len(parts) >= 2 and all(len(p) == len(total) for p in parts)
    assert total == [sum(col) for col in zip(*parts)]


def test_tables_fit_80_columns():
    """The README's three guests: the summary and --stats fit 80 columns, no header cut,
    no cell wrapped."""
    st, _, err = hv("boot", "--stats", "guests/kernel.s", "guests/fib.s",
                    "guests/sieve.s", "--max-steps", "20000", env={"COLUMNS": "80"})
    assert st == 124
    lines = err.splitlines()
    assert max(len(ln.rstrip()) for ln in lines) <= 80, "\n".join(lines)
    assert "…" not in err
    header = next(ln for ln in lines if ln.split()[:2] == ["guest", "state"])
    assert header.split() == ["guest", "state", "reason", "instructions", "exits", "CPU",
                              "memory"]
    for name in ("kernel", "fib", "sieve", "total"):
        assert sum(ln.split()[:1] == [name] for ln in lines) == 1, name   # one line each
    assert any(ln.startswith("host pool") for ln in lines)


def test_trace_show_refuses_a_perfetto_file_in_one_line(tmp_path):
    t = tmp_path / "t.json"
    assert hv("boot", "guests/hello.s", "--trace", t)[0] == 0
    json.loads(t.read_text())
    st, out, err = hv("trace", "show", t)
    assert st == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "Perfetto" in err and ".jsonl" in err


# --- as a real process -----------------------------------------------------------------------

def test_the_module_runs_as_a_process():
    st, out, err = hv_proc("run", "guests/hello.s")
    assert st == 0 and "Hello" in out and err == ""
    st, out, err = hv_proc("boot", "guests/hello.s", "--mem", "12")
    assert st == 2 and "--mem" in err


LOUD = "li r2, 20000\nli r3, 0\nloop: li r1, 120\nout 0x10, r1\nli r1, 10\nout 0x10, r1\n" \
       "sub r2, r2, 1\nbne r2, r3, loop\nhalt\n"


@pytest.mark.parametrize("args", [["run"], ["boot"], ["boot", "--stats", "@"],
                                  ["boot", "--trace", "-"]], ids=["run", "boot", "boot-multi",
                                                                  "boot-trace"])
def test_a_closed_pipe_ends_quietly(src, args):
    """`hv run x.s | head -1`: the reader goes away; hv ends with 141 (128 + SIGPIPE) and
    says nothing, whatever was writing (the raw console, rich's prefixed lines or table,
    the live trace on stderr)."""
    f = src(LOUD)
    argv = [a if a != "@" else f for a in args] + [f]
    both = "--trace" in args
    p = subprocess.Popen([sys.executable, "-m", "hv", *map(str, argv)], cwd=ROOT,
                         stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT if both else subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    first = p.stdout.readline()
    p.stdout.close()                       # as `head -1` does
    err = b"" if both else p.stderr.read()
    status = p.wait(timeout=120)
    assert first and status == 141 and err == b"", (status, err)


def test_live_trace_fits_80_columns():
    st, _, err = hv("boot", "guests/kernel.s", "--trace", "-",
                    "--max-steps", "40000", env={"COLUMNS": "80"})
    assert st == 124
    lines = err.splitlines()
    assert len(lines) > 500 and max(map(len, lines)) <= 80
    events = [ln for ln in lines if ln[:9].strip().isdigit()]
    assert len(lines) - len(events) < len(events) // 4     # few events take a second line
    assert any("reflect" in ln for ln in events) and any("iret" in ln for ln in events)
    # to a file or a pipe (no COLUMNS), the full layout, one line per event
    st, _, err = hv("boot", "guests/hello.s", "--trace", "-", env={"COLUMNS": ""})
    assert "out 0x10, r2         out port 0x10" in err
