"""`hv`: one command, with subcommands. No user error ends in a Python traceback.

Exit statuses: a guest's power-off status (low 8 bits) for `run` and `boot`; 1 for an
assembler error or a failed check; 2 for a usage error or a file that cannot be used;
124 when `--max-steps` stops a guest; 125 when the machine stops on its own (double fault,
`wfi` that can never wake, a guest stopped by the hypervisor).
"""
from __future__ import annotations

import argparse
import os
import sys

from rich.console import Console

EXIT_USAGE = 2
EXIT_MAX_STEPS = 124
EXIT_CRASH = 125

err = Console(stderr=True, highlight=False)


class CLIError(Exception):
    """A user error: one line, exit status 2."""


def _fail(msg: str, status: int = EXIT_USAGE) -> int:
    err.print(f"[bold red]hv: error:[/] {msg}", markup=True, soft_wrap=True)
    return status


def _load(path: str):
    from asm.loader import load_program
    return load_program(path)


def memory_size(text: str) -> int:
    """argparse type: '64K', '1M' -> bytes."""
    from vcpu.machine import parse_size
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


def _input_bytes(args):
    from vcpu.devices import ConsoleInput
    if args.input is not None:
        return ConsoleInput(args.input.encode().decode("unicode_escape").encode("latin-1"))
    if args.input_file is not None:
        with open(args.input_file, "rb") as f:
            return ConsoleInput(f.read())
    return ConsoleInput.from_stdin()


def _stdout_write(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    if b"\n" in data:
        sys.stdout.buffer.flush()


def cmd_run(args) -> int:
    from vcpu.machine import Machine
    image = _load(args.program)
    m = Machine(image, mem_size=args.mem, core=args.core, console_write=_stdout_write,
                console_input=_input_bytes(args), disk=args.disk)
    out = m.run(args.max_steps)
    sys.stdout.flush()
    if out.kind == "poweroff":
        return out.status & 0xFF
    err.print(f"hv: {out.message} after {out.icount} instructions", markup=False,
              soft_wrap=True)
    return EXIT_MAX_STEPS if out.kind == "max-steps" else EXIT_CRASH


def cmd_boot(args) -> int:
    from hypervisor.boot import boot_command
    return boot_command(args, _load, _input_bytes, _stdout_write, err)


def _range(text: str) -> tuple[int, int]:
    try:
        lo, hi = text.split("-", 1)
        return int(lo, 0), int(hi, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"address range {text!r}: use LO-HI, e.g. 0x100-0x1ff") from None


def _trace_filter_args(p) -> None:
    p.add_argument("--trace-guest", action="append", metavar="NAME", help="only this guest")
    p.add_argument("--trace-kind", action="append", metavar="KIND",
                   choices=("emulate", "reflect", "shadow-fill", "inject", "schedule", "stop"),
                   help="only this kind of event (repeatable)")
    p.add_argument("--trace-cause", action="append", type=int, metavar="N",
                   help="only events with this trap cause code")
    p.add_argument("--trace-insn", action="append", metavar="MNEMONIC",
                   help="only events for this instruction (e.g. mtcr)")
    p.add_argument("--trace-range", type=_range, metavar="LO-HI", help="only pcs in this range")


def trace_filter(args):
    from hypervisor.trace import Filter
    if not any((args.trace_guest, args.trace_kind, args.trace_cause, args.trace_insn,
                args.trace_range)):
        return None
    return Filter(args.trace_guest, args.trace_kind, args.trace_cause,
                  [m.lower() for m in args.trace_insn or []], args.trace_range)


def cmd_trace_show(args) -> int:
    from hypervisor.trace import show
    return show(args.file, trace_filter(args))


def cmd_trace_schema(args) -> int:
    from hypervisor.trace import print_schema
    print_schema()
    return 0


def cmd_lockstep(args) -> int:
    from vcpu.lockstep import run_lockstep_command
    return run_lockstep_command(_load(args.program), args.max_steps or 1_000_000, args.mem)


def cmd_bench(args) -> int:
    from bench.run import bench_command
    return bench_command(args)


def _common_machine_args(p, default_core="c"):
    p.add_argument("--mem", type=memory_size, default=64 * 1024, metavar="SIZE",
                   help="guest memory, e.g. 64K (default), 256K, 1M")
    p.add_argument("--max-steps", type=positive_int, default=None, metavar="N",
                   help="stop a runaway guest after N instructions (exit status 124)")
    p.add_argument("--core", choices=("c", "py"), default=default_core,
                   help="native C core (default) or the pure-Python reference core")


def _input_args(p):
    g = p.add_mutually_exclusive_group()
    g.add_argument("--input", metavar="TEXT",
                   help="console input, with C escapes (\\n); default: stdin when piped")
    g.add_argument("--input-file", metavar="FILE", help="console input from a file")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hv", description="A teaching hypervisor with a bytecode virtual CPU.",
        epilog="Sources (.s) are accepted wherever an image is, and assembled on the fly.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    from asm.commands import add_parsers
    add_parsers(sub)
    from hypervisor.testcmd import add_test_parser
    add_test_parser(sub)

    r = sub.add_parser("run", help="boot an image on the bare machine (real kernel mode)",
                       description="Boot IMAGE or SOURCE.s on the bare machine: kernel mode, "
                       "paging off, sp at the top of memory. Prints the guest's console and "
                       "exits with its power-off status.")
    r.add_argument("program", metavar="IMAGE|SOURCE.s")
    _common_machine_args(r)
    _input_args(r)
    r.add_argument("--disk", metavar="FILE", help="disk image file for the block device")
    r.set_defaults(func=cmd_run)

    b = sub.add_parser("boot", help="boot one or more guests under the hypervisor",
                       description="Boot guests under the hypervisor: each guest kernel runs in "
                       "real user mode; privileged instructions trap and are emulated.")
    b.add_argument("programs", nargs="*", metavar="IMAGE|SOURCE.s[:mem=128K,weight=2,disk=F,name=N]")
    b.add_argument("--host", metavar="FILE.toml", help="a host description: pool, slice, guests")
    b.add_argument("--console-dir", metavar="DIR", help="also write each guest's console to "
                   "DIR/NAME.log")
    _common_machine_args(b)
    _input_args(b)
    b.add_argument("--disk", action="append", metavar="FILE",
                   help="disk image for the guests, in order (repeat per guest)")
    b.add_argument("--stats", action="store_true",
                   help="print exit, emulation and efficiency statistics on stderr")
    b.add_argument("--slice", type=positive_int, default=10_000, metavar="N",
                   help="scheduler time slice in guest instructions (default 10000)")
    b.add_argument("--weight", type=positive_int, action="append", metavar="W",
                   help="CPU share of each guest, in order (repeat per guest; default 1)")
    t = b.add_argument_group("tracing")
    t.add_argument("--trace", metavar="FILE",
                   help="write trap-and-emulate events: FILE.jsonl, FILE.json (Perfetto) "
                   "or - for a live view on stderr")
    _trace_filter_args(t)
    t.add_argument("--trace-last", type=positive_int, metavar="N",
                   help="keep only the last N events (written when the run ends)")
    b.set_defaults(func=cmd_boot)

    tr = sub.add_parser("trace", help="work with saved traces")
    trs = tr.add_subparsers(dest="trace_command", metavar="ACTION")
    trs.required = True
    show = trs.add_parser("show", help="print a saved JSON Lines trace, coloured")
    show.add_argument("file", metavar="FILE.jsonl")
    _trace_filter_args(show)
    show.set_defaults(func=cmd_trace_show)
    sch = trs.add_parser("schema", help="print the JSON Lines event schema")
    sch.set_defaults(func=cmd_trace_schema)

    ls = sub.add_parser("lockstep", help="run an image on both cores and compare every step")
    ls.add_argument("program", metavar="IMAGE|SOURCE.s")
    _common_machine_args(ls)
    ls.set_defaults(func=cmd_lockstep)

    be = sub.add_parser("bench", help="measure the cores and the hypervisor")
    be.add_argument("--quick", action="store_true", help="short runs (noisier figures)")
    be.add_argument("--write", metavar="FILE", help="also write the figures as Markdown")
    be.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    from asm.errors import AsmError
    from vcpu.image import ImageError
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except AsmError as e:
        sys.stdout.flush()
        print(str(e), file=sys.stderr)
        return 1
    except ImageError as e:
        return _fail(str(e))
    except (CLIError, ValueError) as e:
        return _fail(str(e))
    except FileNotFoundError as e:
        return _fail(f"{e.filename}: no such file")
    except IsADirectoryError as e:
        return _fail(f"{e.filename}: is a directory")
    except PermissionError as e:
        return _fail(f"{e.filename}: permission denied")
    except OSError as e:
        return _fail(f"{getattr(e, 'filename', '') or ''}: {e.strerror or e}")
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
