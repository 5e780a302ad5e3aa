"""What every command shares: exit statuses, the one error printer, argparse types and
the options several commands take.

Exit statuses (also in README.md):
    0..255  a guest's power-off status (low 8 bits), for `run`, `boot`, `os`, `restore`
    1       an assembler error, or a failed check (`test`, `lockstep`)
    2       a usage error or a file that cannot be used
    124     `--max-steps` or `--timeout` stopped a guest (`lockstep --max-steps` too)
    125     the machine stopped on its own (double fault, a `wfi` that could never wake,
            a guest stopped by the hypervisor)
    128+N   the host got signal N (130 for Ctrl-C, 141 for a closed pipe)
"""
from __future__ import annotations

import argparse
import sys

from rich.console import Console

EXIT_OK = 0
EXIT_FAILED = 1          # also: an assembler error
EXIT_USAGE = 2
EXIT_MAX_STEPS = 124
EXIT_CRASH = 125
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141



def _on_broken_pipe(self) -> None:
    """rich's own reaction to a closed pipe is `SystemExit(1)`; hv's is the conventional
    quiet 141 (hv/cli.py), so every console of every command raises BrokenPipeError."""
    self.quiet = True
    raise BrokenPipeError(32, "Broken pipe")


Console.on_broken_pipe = _on_broken_pipe
err = Console(stderr=True, highlight=False)


class CLIError(Exception):
    """A user error: one line on stderr, exit status 2 (or `status`)."""

    def __init__(self, message: str, status: int = EXIT_USAGE):
        super().__init__(message)
        self.status = status


def fail(message: str, status: int = EXIT_USAGE) -> int:
    """Print `hv: error: MESSAGE` on stderr and return `status`. The message is plain text
    (never rich markup: a guest name like `[host]` must survive)."""
    err.print("hv: error: ", style="bold red", end="", markup=False)
    err.print(message, markup=False, soft_wrap=True)
    return status


def warn(message: str) -> None:
    err.print("hv: warning: ", style="yellow", end="", markup=False)
    err.print(message, markup=False, soft_wrap=True)


# --- argparse types -----------------------------------------------------------------------

def memory_size(text: str) -> int:
    """argparse type: '64K', '1M' -> bytes."""
    from vcpu.units import parse_size
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def positive_int(text: str) -> int:
    """argparse type: a whole number > 0 (0x.. and 1_000 allowed)."""
    try:
        n = int(text.replace("_", ""), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if n <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return n


def csv_choice(choices):
    """argparse type: a comma-separated subset of `choices`, e.g. 'c,py'."""
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"{text!r}: choose from {', '.join(choices)} (comma-separated)")
        return list(dict.fromkeys(items))
    return parse


# --- options shared by commands -------------------------------------------------------------

def add_include_arg(p) -> None:
    """-I DIR (repeatable): where `.include` looks after the including file's directory."""
    p.add_argument("-I", dest="include_dirs", action="append", default=[], metavar="DIR",
                   help="look for .include files in DIR too (after the including file's "
                        "directory; repeatable)")


def add_machine_args(p, default_core: str = "c") -> None:
    """--mem, --max-steps, --core."""
    add_include_arg(p)
    p.add_argument("--mem", type=memory_size, default=64 * 1024, metavar="SIZE",
                   help="guest memory, e.g. 64K (default), 256K, 1M")
    p.add_argument("--max-steps", type=positive_int, default=None, metavar="N",
                   help="stop a runaway guest after N instructions (exit status 124)")
    p.add_argument("--core", choices=("c", "py"), default=default_core,
                   help="native C core (default) or the pure-Python reference core")


def cpu_count(text: str) -> int:
    """argparse type: a number of CPUs, 1..16 (brief §11)."""
    from vcpu.isa import MAX_CPUS
    n = positive_int(text)
    if n > MAX_CPUS:
        raise argparse.ArgumentTypeError(f"at most {MAX_CPUS} CPUs")
    return n


def add_smp_args(p) -> None:
    """--cpus N, --quantum Q (brief §11)."""
    from vcpu.isa import DEFAULT_QUANTUM
    p.add_argument("--cpus", type=cpu_count, default=1, metavar="N",
                   help="CPUs of the machine, 1 to 16 (default 1); they take turns")
    p.add_argument("--quantum", type=positive_int, default=DEFAULT_QUANTUM, metavar="Q",
                   help=f"instruction slots per CPU turn (default {DEFAULT_QUANTUM})")


def add_input_args(p) -> None:
    """--input TEXT | --input-file FILE (default: stdin when piped)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--input", metavar="TEXT",
                   help="console input, with C escapes (\\n); default: stdin when piped")
    g.add_argument("--input-file", metavar="FILE", help="console input from a file")


def console_input(args):
    """The console input device's data, from --input, --input-file or stdin."""
    from vcpu.devices import ConsoleInput
    if getattr(args, "input", None) is not None:
        return ConsoleInput(unescape(args.input))
    if getattr(args, "input_file", None) is not None:
        return ConsoleInput(stream=open(args.input_file, "rb"))   # read as the guest asks
    return ConsoleInput.from_stdin()


def unescape(text: str) -> bytes:
    """C escapes in command-line text (\\n, \\t, \\xHH) -> bytes; other text as UTF-8."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("unicode_escape").encode("latin-1")
    except (UnicodeDecodeError, UnicodeEncodeError):
        raise CLIError(f"--input {text!r}: bad escape (use \\n, \\t, \\\\, \\xHH)") from None


def load_program(path: str):
    """An image or a source (.s, assembled on the fly)."""
    from asm.loader import load_program as _load
    return _load(path)


def stop_text(message: str, icount: int) -> str:
    """Why a guest stopped, with its instruction count said once: a --max-steps stop's
    message already names it ("stopped after N instructions (--max-steps)")."""
    if "(--max-steps)" in message:
        return message
    return f"{message} after {icount} instructions"


def stdout_write(data: bytes) -> None:
    """The guest console: raw bytes to stdout, flushed at each line end."""
    sys.stdout.buffer.write(data)
    if b"\n" in data:
        sys.stdout.buffer.flush()
