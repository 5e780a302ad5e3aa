"""`hv trace show FILE` and `hv trace schema`; the `--trace-*` filters `boot` shares."""
from __future__ import annotations

import argparse

from ..common import CLIError


def register(sub) -> None:
    tr = sub.add_parser("trace", help="work with saved traces")
    trs = tr.add_subparsers(dest="trace_command", metavar="ACTION")
    trs.required = True
    show = trs.add_parser("show", help="print a saved JSON Lines trace, coloured")
    show.add_argument("file", metavar="FILE.jsonl")
    add_filter_args(show)
    show.set_defaults(func=cmd_trace_show)
    sch = trs.add_parser("schema", help="print the JSON Lines event schema")
    sch.set_defaults(func=cmd_trace_schema)


def address_range(text: str) -> tuple[int, int]:
    """argparse type: 'LO-HI' (inclusive, LO <= HI)."""
    try:
        lo, hi = text.split("-", 1)
        lo_n, hi_n = int(lo, 0), int(hi, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"address range {text!r}: use LO-HI, e.g. 0x100-0x1ff") from None
    if lo_n > hi_n:
        raise argparse.ArgumentTypeError(f"address range {text!r}: LO is above HI")
    return lo_n, hi_n


def add_filter_args(p) -> None:
    p.add_argument("--trace-guest", action="append", metavar="NAME", help="only this guest")
    p.add_argument("--trace-kind", action="append", metavar="KIND",
                   choices=("emulate", "reflect", "shadow-fill", "inject", "schedule", "stop"),
                   help="only this kind of event (repeatable)")
    p.add_argument("--trace-cause", action="append", type=int, metavar="N",
                   help="only events with this trap cause code")
    p.add_argument("--trace-insn", action="append", metavar="MNEMONIC",
                   help="only events for this instruction (e.g. mtcr)")
    p.add_argument("--trace-range", type=address_range, metavar="LO-HI",
                   help="only pcs in this range")


def trace_filter(args):
    """The `--trace-*` options as a trace Filter, or None when none was given."""
    from hypervisor.trace import Filter
    if not any((args.trace_guest, args.trace_kind, args.trace_cause, args.trace_insn,
                args.trace_range)):
        return None
    return Filter(args.trace_guest, args.trace_kind, args.trace_cause,
                  [m.lower() for m in args.trace_insn or []], args.trace_range)


def cmd_trace_show(args) -> int:
    from hypervisor.trace import show
    if _is_perfetto(args.file):
        raise CLIError(f"{args.file}: a Perfetto trace (--trace FILE.json): open it in the "
                       "Perfetto UI; hv trace show reads --trace FILE.jsonl files")
    return show(args.file, trace_filter(args))


def _is_perfetto(path: str) -> bool:
    """Does the file start as the Chrome trace-event JSON object that --trace FILE.json
    writes (one object holding every event, not one event per line)?"""
    with open(path, "rb") as f:
        head = f.read(256).lstrip()
    return head.startswith(b"{") and (b'"traceEvents"' in head or b'"displayTimeUnit"' in head)


def cmd_trace_schema(args) -> int:
    from hypervisor.trace import print_schema
    print_schema()
    return 0
