"""`hv restore FILE`: continue a snapshot, bare snapshots on the bare machine and guest
snapshots under the hypervisor. The console shows exactly what the uninterrupted run printed
after the snapshot's instruction, and the exit status is the same (brief §8)."""
from __future__ import annotations

from ..common import positive_int, stdout_write, warn
from ..guard import add_timeout_arg
from .run import run_machine
from .trace import add_filter_args, trace_filter


def register(sub) -> None:
    r = sub.add_parser("restore", help="continue a snapshot (hv run/boot --snapshot-at)",
                       description="Continue the machine or guest saved in FILE from the "
                       "instruction where it was saved, on either core.")
    r.add_argument("file", metavar="FILE")
    r.add_argument("--core", choices=("c", "py"), default=None,
                   help="the core to continue on (default: the one that wrote the snapshot)")
    r.add_argument("--max-steps", type=positive_int, default=None, metavar="N",
                   help="stop at instruction N (default: the saved run's --max-steps)")
    r.add_argument("--stats", action="store_true", help="guest statistics on stderr")
    t = r.add_argument_group("tracing (guest snapshots)")
    t.add_argument("--trace", metavar="FILE",
                   help="trap-and-emulate events: FILE.jsonl, FILE.json (Perfetto) or -")
    add_filter_args(t)
    t.add_argument("--trace-last", type=positive_int, metavar="N",
                   help="keep only the last N events")
    from .. import mobility
    mobility.add_args(r, guests=True)
    add_timeout_arg(r)
    r.set_defaults(func=cmd_restore)


def cmd_restore(args) -> int:
    from vcpu.snapshot import read
    snap = read(args.file)
    max_steps = args.max_steps
    if max_steps is None:
        saved = snap.state["params"].get("max_steps")
        max_steps = saved if isinstance(saved, int) and saved > 0 else None
    if snap.kind == "machine":
        return _bare(snap, args, max_steps)
    return _guest(snap, args, max_steps)


def _bare(snap, args, max_steps) -> int:
    from vcpu.snapshot import restore_machine
    if args.trace:
        warn("--trace: the bare machine has no trap trace (guests under the hypervisor "
             "do); running without")
    m = restore_machine(snap, core=args.core, console_write=stdout_write, warn=warn)
    return run_machine(m, args, max_steps)


def _guest(snap, args, max_steps) -> int:
    from hypervisor.snapshot import new_host_for, restore_guest
    from vcpu.snapshot import image_from_symbols
    from .. import mobility
    st = snap.state
    trace = None
    if args.trace:
        from hypervisor.trace import open_trace
        trace = open_trace(args.trace, [image_from_symbols(st.get("symbols", []))],
                           [st.get("name", "guest")], trace_filter(args), args.trace_last)
    host = new_host_for(st, trace)
    vm = restore_guest(snap, host, core=args.core,
                       console_write=lambda vm, data: stdout_write(data), warn=warn)
    slice_ = st["params"].get("slice", 10_000)
    points = mobility.install_guests(host, args, {"max_steps": max_steps, "slice": slice_})
    return mobility.run_guest_host(host, vm, max_steps, slice_, trace, points, stats=args.stats,
                                    timeout=args.timeout)
