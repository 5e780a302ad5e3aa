"""`hv dap [--listen tcp:HOST:PORT]`: the Debug Adapter Protocol (debugger/dap.py) for VS Code,
nvim-dap and other DAP clients; launch arguments program, core, hypervisor, cpus, input,
stopOnEntry."""
from __future__ import annotations

import sys

from ..common import CLIError


def register(sub) -> None:
    p = sub.add_parser(
        "dap", help="Debug Adapter Protocol server (VS Code, neovim)",
        description="Speak the Debug Adapter Protocol on stdin/stdout, or on one TCP "
                    "connection with --listen. Launch arguments: program, core (c|py), "
                    "hypervisor (bool), cpus, input, stopOnEntry.")
    p.add_argument("--listen", metavar="tcp:HOST:PORT",
                   help="wait for one client on this TCP address instead of stdio")
    p.set_defaults(func=cmd_dap)


def parse_listen(text: str) -> tuple[str, int]:
    kind, _, rest = text.partition(":")
    host, _, port = rest.rpartition(":")
    if kind != "tcp" or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise CLIError(f"--listen {text!r}: expected tcp:HOST:PORT (e.g. tcp:127.0.0.1:4711)")
    return host.strip("[]"), int(port)


def cmd_dap(args) -> int:
    from debugger.dap import serve_stdio, serve_tcp
    if args.listen:
        host, port = parse_listen(args.listen)

        def ready(p):
            print(f"hv dap: listening on tcp:{host}:{p}", file=sys.stderr, flush=True)
        try:
            return serve_tcp(host, port, ready)
        except OSError as e:
            raise CLIError(f"--listen {args.listen}: {e.strerror or e}") from None
    return serve_stdio()
