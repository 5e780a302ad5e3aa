"""`hv boot A.s [B.s ...]`: guests under the hypervisor, their console, and the summary."""
from __future__ import annotations

import os
import sys

from hypervisor.host import Host, frames_needed
from mobility.cli import (add_net_args, add_repo_args, attach_net_from_args,
                          attach_repo_from_args, check_repo_arg, stderr_note, trace_note)
from vcpu.isa import PAGE_SIZE

from ..common import (EXIT_CRASH, EXIT_MAX_STEPS, add_input_args, add_machine_args,
                      add_smp_args, console_input, err, load_program, positive_int,
                      stdout_write, warn)
from ..console import SharedConsole
from ..guard import (ConsoleLogs, StopSignals, add_timeout_arg, check_disks, check_host_memory,
                     disk_errors, stopped)
from ..hostfile import load_host_file, name_guests, parse_guest_arg
from ..tables import stats_table, summary_table
from .trace import add_filter_args, trace_filter


def register(sub) -> None:
    b = sub.add_parser("boot", help="boot one or more guests under the hypervisor",
                       description="Boot guests under the hypervisor: each guest kernel runs in "
                       "real user mode; privileged instructions trap and are emulated.")
    b.add_argument("programs", nargs="*",
                   metavar="IMAGE|SOURCE.s[:mem=128K,weight=2,disk=F,name=N,cpus=N,quantum=Q]")
    b.add_argument("--host", metavar="FILE.toml", help="a host description: pool, slice, guests")
    b.add_argument("--console-dir", metavar="DIR", help="also write each guest's console to "
                   "DIR/NAME.log")
    add_machine_args(b)
    add_smp_args(b)
    add_input_args(b)
    b.add_argument("--disk", action="append", metavar="FILE",
                   help="disk image for the guests, in order (repeat per guest)")
    b.add_argument("--stats", action="store_true",
                   help="print exit, emulation and efficiency statistics on stderr")
    b.add_argument("--slice", type=positive_int, default=10_000, metavar="N",
                   help="scheduler time slice in guest instructions (default 10000)")
    b.add_argument("--weight", type=positive_int, action="append", metavar="W",
                   help="CPU share of each guest, in order (repeat per guest; default 1)")
    b.add_argument("--virt", choices=("trap", "hw"), default="trap",
                   help="trap: trap-and-emulate (default); hw: the core's guest mode, "
                   "exiting only for what the hypervisor asks")
    b.add_argument("--paging", choices=("shadow", "nested"), default="shadow",
                   help="shadow page tables (default) or nested paging (needs --virt hw)")
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
    add_timeout_arg(b)
    b.add_argument("--host-mem", type=host_memory, metavar="SIZE",
                   help="refuse to start when the guests' pool would exceed this much host "
                   "memory (default: half of this machine's memory)")
    b.add_argument("--raw-console", action="store_true",
                   help="one guest only: pass its console bytes to a terminal unchanged "
                   "(by default control characters are shown as ^[ ...)")
    add_net_args(b)
    mobility.add_migration_args(b)
    b.set_defaults(func=cmd_boot)


def host_memory(text: str) -> int:
    """argparse type: a size like 2G (any whole number of bytes, no 1G cap)."""
    import argparse
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(t[-1:], 1)
    try:
        n = int(t[:-1] if mult > 1 else t, 0) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad size {text!r} (try 512M, 4G)") from None
    if n <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return n


def cmd_boot(args) -> int:
    filters = [f"--{k.replace('_', '-')}" for k in ("trace_guest", "trace_kind", "trace_cause",
                                                      "trace_insn", "trace_range", "trace_last")
               if getattr(args, k, None)]
    if filters and not args.trace:
        raise ValueError(f"{filters[0]} selects what --trace writes: give --trace FILE "
                         "(or --trace - for a live view)")
    if args.incoming:
        from ..mobility import incoming_command
        return incoming_command(args)
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
        spec.cpus = spec.cpus or args.cpus
        spec.quantum = spec.quantum or args.quantum
    images = [load_program(spec.program) for spec in specs]
    check_repo_arg(args)
    names = [spec.name for spec in specs]
    multi = len(specs) > 1
    if args.raw_console and multi:
        raise ValueError("--raw-console is for one guest: several guests share the console, "
                         "and their control characters are always shown visibly")
    check_disks([(spec.name, spec.disk) for spec in specs])
    needed = sum(frames_needed(spec.mem, spec.cpus) for spec in specs) * PAGE_SIZE
    pool = host_cfg.get("memory", needed)
    if pool < needed:
        raise ValueError(f"host memory {pool // 1024} KiB cannot hold these guests: they need "
                         f"{needed // 1024} KiB with their shadow page tables")
    check_host_memory(pool, args.host_mem, len(specs))
    logs = ConsoleLogs(args.console_dir, names) if args.console_dir else None
    escape = not args.raw_console and sys.stdout.isatty()
    console = SharedConsole(stdout_write, err, multi, escape=escape, logs=logs)
    trace = None
    if args.trace:
        from hypervisor.trace import open_trace
        trace = open_trace(args.trace, images, names, trace_filter(args), args.trace_last)
        trace.on_error = warn
    host = Host(pool, trace=trace, host_threads=args.host_threads)
    cin = console_input(args)
    for i, (spec, image) in enumerate(zip(specs, images)):
        console.register(spec.name)
        host.add(spec.name, image, mem_size=spec.mem, core=args.core,
                 console_write=console.write, console_input=cin if i == 0 else None,
                 disk=spec.disk, weight=spec.weight, cpus=spec.cpus, quantum=spec.quantum,
                 virt=args.virt, paging=args.paging)
        vm = host.vms[-1]
        attach_repo_from_args(vm, args, trace_note(trace, vm) if trace
                              else stderr_note(f"{vm.name}: " if multi else ""), defer=True)
    from .. import mobility
    points = mobility.install_guests(host, args, {"max_steps": args.max_steps,
                                                  "slice": host_cfg.get("slice", args.slice)})
    switch = attach_net_from_args(host, args)
    stop = None
    guard = StopSignals(args.timeout)
    try:
        try:
            with guard:
                host.run(slice_=host_cfg.get("slice", args.slice), max_steps=args.max_steps)
        except KeyboardInterrupt as e:
            stop = stopped(e)
            host.close(stop.reason)
        finally:
            host.close("host stopped")          # disks flushed even if the run loop failed
            if trace:
                trace.close()
            if logs:
                logs.close()
            if switch:
                switch.close()
        return _report(host, console, args, multi, stop, points)
    finally:
        guard.restore()


def _report(host, console, args, multi, stop, points) -> int:
    from .. import mobility
    sys.stdout.flush()
    mobility.report_missed(points, max(vm.core.icount for vm in host.vms))
    switch = host.net
    if switch and (args.stats or any("dropped" in k for k in switch.stats)):
        err.print(switch.summary(), markup=False, highlight=False, soft_wrap=True)
    for vm in host.vms:
        console.finish(vm.name)
        if vm.stop_kind not in ("poweroff", "migrated"):
            where = f"{vm.name}: " if multi else ""
            after = "" if vm.stop_kind == "max-steps" else f" after {vm.core.icount} instructions"
            err.print(f"hv: {where}{vm.reason}{after}",
                      markup=False, highlight=False, soft_wrap=True)
    for msg in disk_errors(host.vms, multi):
        warn(msg)
    if multi:
        err.print(summary_table(host.vms))
    if args.stats:
        err.print(stats_table(host.vms))
    if stop is not None:
        return stop.status
    for vm in host.vms:
        if vm.stop_kind == "max-steps":
            return EXIT_MAX_STEPS
        if vm.stop_kind not in ("poweroff", "migrated"):
            return EXIT_CRASH
    for vm in host.vms:
        if vm.status & 0xFF:
            return vm.status & 0xFF
    return 0
