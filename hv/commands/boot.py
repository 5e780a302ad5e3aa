"""`hv boot A.s [B.s ...]`: guests under the hypervisor, their console, and the summary."""
from __future__ import annotations

import os
import sys

from hypervisor.host import Host, frames_needed
from mobility.cli import add_repo_args, attach_repo_from_args, check_repo_arg, stderr_note, trace_note
from vcpu.isa import PAGE_SIZE

from ..common import (EXIT_CRASH, EXIT_INTERRUPTED, EXIT_MAX_STEPS, add_input_args,
                      add_machine_args, console_input, err, load_program, positive_int,
                      stdout_write)
from ..console import SharedConsole
from ..hostfile import load_host_file, name_guests, parse_guest_arg
from ..tables import stats_table, summary_table
from .trace import add_filter_args, trace_filter


def register(sub) -> None:
    b = sub.add_parser("boot", help="boot one or more guests under the hypervisor",
                       description="Boot guests under the hypervisor: each guest kernel runs in "
                       "real user mode; privileged instructions trap and are emulated.")
    b.add_argument("programs", nargs="*",
                   metavar="IMAGE|SOURCE.s[:mem=128K,weight=2,disk=F,name=N]")
    b.add_argument("--host", metavar="FILE.toml", help="a host description: pool, slice, guests")
    b.add_argument("--console-dir", metavar="DIR", help="also write each guest's console to "
                   "DIR/NAME.log")
    add_machine_args(b)
    add_input_args(b)
    b.add_argument("--disk", action="append", metavar="FILE",
                   help="disk image for the guests, in order (repeat per guest)")
    b.add_argument("--stats", action="store_true",
                   help="print exit, emulation and efficiency statistics on stderr")
    b.add_argument("--slice", type=positive_int, default=10_000, metavar="N",
                   help="scheduler time slice in guest instructions (default 10000)")
    b.add_argument("--weight", type=positive_int, action="append", metavar="W",
                   help="CPU share of each guest, in order (repeat per guest; default 1)")
    b.add_argument("--host-threads", type=positive_int, default=os.cpu_count() or 1,
                   metavar="N", help="run guests in parallel on N host threads (default: "
                   "the number of host CPUs; a traced run uses one)")
    t = b.add_argument_group("tracing")
    t.add_argument("--trace", metavar="FILE",
                   help="write trap-and-emulate events: FILE.jsonl, FILE.json (Perfetto) "
                   "or - for a live view on stderr")
    add_filter_args(t)
    t.add_argument("--trace-last", type=positive_int, metavar="N",
                   help="keep only the last N events (written when the run ends)")
    add_repo_args(b)
    from .. import mobility
    mobility.add_args(b, guests=True)
    b.set_defaults(func=cmd_boot)


def cmd_boot(args) -> int:
    host_cfg: dict = {}
    if args.host:
        host_cfg, specs = load_host_file(args.host)
        specs = specs + [parse_guest_arg(p) for p in args.programs or []]
    else:
        if not args.programs:
            raise ValueError("no guests: name images or sources, or give --host FILE.toml")
        specs = [parse_guest_arg(p) for p in args.programs]
    for i, d in enumerate(args.disk or []):
        if i >= len(specs):
            raise ValueError(f"{len(args.disk)} --disk files for {len(specs)} guests")
        specs[i].disk = specs[i].disk or d
    for i, w in enumerate(args.weight or []):
        if i >= len(specs):
            raise ValueError(f"{len(args.weight)} --weight values for {len(specs)} guests")
        specs[i].weight = w
    name_guests(specs)
    for spec in specs:
        spec.mem = spec.mem or args.mem
    images = [load_program(spec.program) for spec in specs]
    check_repo_arg(args)
    names = [spec.name for spec in specs]
    multi = len(specs) > 1
    console = SharedConsole(stdout_write, err, multi)
    needed = sum(frames_needed(spec.mem) for spec in specs) * PAGE_SIZE
    pool = host_cfg.get("memory", needed)
    if pool < needed:
        raise ValueError(f"host memory {pool // 1024} KiB cannot hold these guests: they need "
                         f"{needed // 1024} KiB with their shadow page tables")
    trace = None
    if args.trace:
        from hypervisor.trace import open_trace
        trace = open_trace(args.trace, images, names, trace_filter(args), args.trace_last)
    host = Host(pool, trace=trace, host_threads=args.host_threads)
    cin = console_input(args)
    for i, (spec, image) in enumerate(zip(specs, images)):
        console.register(spec.name)
        host.add(spec.name, image, mem_size=spec.mem, core=args.core,
                 console_write=console.write, console_input=cin if i == 0 else None,
                 disk=spec.disk, weight=spec.weight)
        vm = host.vms[-1]
        attach_repo_from_args(vm, args, trace_note(trace, vm) if trace
                              else stderr_note(f"{vm.name}: " if multi else ""))
    from .. import mobility
    points = mobility.install_guests(host, args, {"max_steps": args.max_steps,
                                                  "slice": host_cfg.get("slice", args.slice)})
    interrupted = False
    try:
        host.run(slice_=host_cfg.get("slice", args.slice), max_steps=args.max_steps)
    except KeyboardInterrupt:
        interrupted = True
        host.close("interrupted (Ctrl-C)")
    finally:
        if trace:
            trace.close()
    sys.stdout.flush()
    mobility.report_missed(points, max(vm.core.icount for vm in host.vms))
    for vm in host.vms:
        console.finish(vm.name)
        if vm.stop_kind != "poweroff":
            where = f"{vm.name}: " if multi else ""
            err.print(f"hv: {where}{vm.reason} after {vm.core.icount} instructions",
                      markup=False, highlight=False, soft_wrap=True)
    if args.console_dir:
        os.makedirs(args.console_dir, exist_ok=True)
        for vm in host.vms:
            with open(os.path.join(args.console_dir, f"{vm.name}.log"), "wb") as f:
                f.write(vm.output)
    if multi:
        err.print(summary_table(host.vms))
    if args.stats:
        err.print(stats_table(host.vms))
    if interrupted:
        return EXIT_INTERRUPTED
    for vm in host.vms:
        if vm.stop_kind == "max-steps":
            return EXIT_MAX_STEPS
        if vm.stop_kind != "poweroff":
            return EXIT_CRASH
    for vm in host.vms:
        if vm.status & 0xFF:
            return vm.status & 0xFF
    return 0
