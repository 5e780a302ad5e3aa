"""`hv`: one command with subcommands, one module each in hv/commands/. No user error ends
in a Python traceback: errors become one line on stderr and an exit status (hv/common.py).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from .common import EXIT_BROKEN_PIPE, EXIT_FAILED, EXIT_INTERRUPTED, CLIError, fail

# The subcommands, in the order `hv --help` lists them: modules of hv.commands, each with
# `register(subparsers)` that adds its parser and sets `func`.
COMMANDS = ["asm", "disasm", "run", "boot", "restore", "snapshot", "monitor", "trace", "test",
            "lockstep", "bench", "pg", "repo", "os", "debug", "dap"]


def build_parser() -> argparse.ArgumentParser:
    from . import version
    p = argparse.ArgumentParser(
        prog="hv", description="A teaching hypervisor with a bytecode virtual CPU.",
        epilog="Sources (.s) are accepted wherever an image is, and assembled on the fly.")
    p.add_argument("--version", action="version", version=f"hv {version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"hv.commands.{name}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from asm.errors import AsmError
    from vcpu.image import ImageError
    parser = build_parser()
    args = parser.parse_args(argv)
    from asm import assembler
    saved_path = assembler.INCLUDE_PATH[:]
    assembler.INCLUDE_PATH[:] = getattr(args, "include_dirs", None) or []
    try:
        return args.func(args)
    except AsmError as e:
        sys.stdout.flush()
        print(str(e), file=sys.stderr)
        return EXIT_FAILED
    except CLIError as e:
        return fail(str(e), e.status)
    except (ImageError, ValueError) as e:
        return fail(str(e))
    except FileNotFoundError as e:
        return fail(f"{e.filename or '?'}: no such file")
    except IsADirectoryError as e:
        return fail(f"{e.filename or '?'}: is a directory")
    except PermissionError as e:
        return fail(f"{e.filename or '?'}: permission denied")
    except BrokenPipeError:
        return _broken_pipe()
    except OSError as e:
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        return fail(f"{where}{e.strerror or e}")
    except MemoryError:
        return fail("out of memory: the host cannot hold this (give less --mem, fewer guests, "
                    "or a smaller input)")
    except KeyboardInterrupt:       # before a command's own handling began (e.g. loading)
        fail("interrupted (Ctrl-C)", EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    finally:
        assembler.INCLUDE_PATH[:] = saved_path


def _broken_pipe() -> int:
    """The reader of our stdout went away (`hv run x.s | head -1`): end quietly, as `cat`
    does, with 128 + SIGPIPE. Later writes (and the interpreter's final flush) go nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):
            try:
                os.dup2(devnull, stream.fileno())
            except (OSError, ValueError):
                pass
        except OSError:
            pass
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


def entry() -> None:
    """The console script: `main()`, then exit with its status."""
    try:
        status = main()
    except BrokenPipeError:
        status = _broken_pipe()
    sys.exit(status)


if __name__ == "__main__":
    entry()
