"""`hv monitor PATH CMD [ARGS]`: one QMP-shaped command to a running `hv boot --monitor`."""
from __future__ import annotations

import json


def register(sub) -> None:
    m = sub.add_parser("monitor", help="send a command to hv boot --monitor unix:PATH",
                       description="Send one command to a running hv boot's monitor and print "
                       "the JSON answer. Commands: stop, cont, query-status, snapshot FILE, "
                       "migrate tcp:HOST:PORT, query-migrate, quit; more arguments as "
                       "key=value (guest=NAME). Exit status 1 when the answer is an error.")
    m.add_argument("path", metavar="PATH", help="the monitor's socket (unix:PATH or PATH)")
    m.add_argument("cmd", metavar="CMD")
    m.add_argument("args", nargs="*", metavar="ARG")
    m.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="give up after S seconds without an answer (default 60)")
    m.set_defaults(func=cmd_monitor)


def cmd_monitor(args) -> int:
    from hypervisor.monitor import client
    reply, status = client(args.path, args.cmd, args.args, args.timeout)
    print(json.dumps(reply, indent=2))
    return status
