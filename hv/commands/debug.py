"""`hv debug PROGRAM [--hv] [--cpus N] [--core c|py] [--input TEXT]`: a debugger with gdb's
habits and reverse execution (debugger/)."""
from __future__ import annotations

import sys

from ..common import CLIError, add_input_args, load_program, memory_size, positive_int, unescape


def register(sub) -> None:
    p = sub.add_parser(
        "debug", help="debug a program, forwards and backwards (gdb's commands)",
        description="Load PROGRAM stopped at its entry point and read gdb-style commands "
                    "(break, continue, step, next, finish, stepi, watch, catch, "
                    "reverse-step, reverse-continue, goto, info registers, x, ...) from the "
                    "terminal, or one per line from a pipe. `help` lists them.")
    p.add_argument("program", metavar="IMAGE|SOURCE.s")
    p.add_argument("--hv", action="store_true",
                   help="run the program as a guest under the hypervisor")
    p.add_argument("--virt", choices=("trap", "hw"), default="trap",
                   help="with --hv: trap-and-emulate (default) or the cores' guest mode")
    p.add_argument("--paging", choices=("shadow", "nested"), default="shadow",
                   help="with --hv: shadow page tables (default) or nested paging "
                        "(needs --virt hw)")
    p.add_argument("--cpus", type=positive_int, default=1, metavar="N",
                   help="number of CPUs (threads in the debugger)")
    p.add_argument("--quantum", type=positive_int, default=None, metavar="Q",
                   help="with several CPUs: instruction slots per turn (default 1000)")
    p.add_argument("--core", choices=("c", "py"), default="c",
                   help="native C core (default) or the pure-Python reference core")
    p.add_argument("--mem", type=memory_size, default=64 * 1024, metavar="SIZE",
                   help="guest memory, e.g. 64K (default), 256K, 1M")
    add_input_args(p)
    p.add_argument("--history-budget", type=memory_size, default=64 << 20, metavar="SIZE",
                   help="memory for reverse-execution checkpoints (default 64M)")
    p.add_argument("-x", "--command", dest="script", metavar="FILE",
                   help="run the commands in FILE first")
    p.set_defaults(func=cmd_debug)


def program_input(args) -> bytes:
    """Console input for the guest: --input or --input-file (stdin carries commands)."""
    if getattr(args, "input", None) is not None:
        return unescape(args.input)
    if getattr(args, "input_file", None) is not None:
        try:
            with open(args.input_file, "rb") as f:
                return f.read()
        except OSError as e:
            raise CLIError(f"{args.input_file}: {e.strerror or e}") from None
    return b""


def cmd_debug(args) -> int:
    from debugger.engine import Debugger
    from debugger.repl import Repl
    if (args.virt, args.paging) != ("trap", "shadow") and not args.hv:
        raise CLIError("--virt and --paging choose how the hypervisor runs the guest: "
                       "give --hv too")
    if args.paging == "nested" and args.virt != "hw":
        raise CLIError("--paging nested needs --virt hw")
    image = load_program(args.program)

    def out(data: bytes) -> None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    d = Debugger(image, hv=args.hv, core=args.core, cpus=args.cpus, mem_size=args.mem,
                 input=program_input(args), output=out, budget=args.history_budget,
                 program=args.program, quantum=args.quantum, virt=args.virt,
                 paging=args.paging)
    repl = Repl(d)
    if args.script:
        try:
            with open(args.script) as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise CLIError(f"{args.script}: {e.strerror or e}") from None
        repl.interactive = False
        repl.loop(lines)
        repl.interactive = sys.stdin.isatty()
        repl.done = False
        repl.loop() if not repl.done else None
        return 0
    return repl.loop()
