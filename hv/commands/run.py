"""`hv run IMAGE|SOURCE.s`: boot on the bare machine (the CPU really in kernel mode)."""
from __future__ import annotations

import sys

from mobility.cli import add_repo_args, attach_repo_from_args, check_repo_arg, stderr_note

from ..common import (EXIT_CRASH, EXIT_MAX_STEPS, add_input_args, add_machine_args,
                      add_smp_args, console_input, err, load_program, stdout_write,
                      stop_text)
from ..guard import StopSignals, add_timeout_arg, stopped


def register(sub) -> None:
    r = sub.add_parser("run", help="boot an image on the bare machine (real kernel mode)",
                       description="Boot IMAGE or SOURCE.s on the bare machine: kernel mode, "
                       "paging off, sp at the top of memory. Prints the guest's console and "
                       "exits with its power-off status.")
    r.add_argument("program", metavar="IMAGE|SOURCE.s")
    add_machine_args(r)
    add_smp_args(r)
    add_input_args(r)
    r.add_argument("--disk", metavar="FILE", help="disk image file for the block device")
    add_repo_args(r)
    from .. import mobility
    mobility.add_args(r, guests=False)
    add_timeout_arg(r)
    r.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    from vcpu.machine import Machine
    image = load_program(args.program)
    check_repo_arg(args)
    from vcpu.image import ImageError
    try:
        m = Machine(image, mem_size=args.mem, core=args.core, console_write=stdout_write,
                    console_input=console_input(args), disk=args.disk, cpus=args.cpus,
                    quantum=args.quantum)
    except ImageError as e:
        raise ImageError(f"{args.program}: {e}") from None
    attach_repo_from_args(m, args, stderr_note())
    return run_machine(m, args, args.max_steps)


def run_machine(m, args, max_steps) -> int:
    """Run a bare machine to its end under the stop signals and --timeout, with the
    --snapshot-at / --switch-core-at points of `args`; print why it stopped; return the
    exit status. `hv run` and `hv restore` (of a bare snapshot) both end here."""
    from .. import mobility
    points = mobility.install_machine(m, args, {"max_steps": max_steps})
    guard = StopSignals(args.timeout)
    try:
        try:
            with guard:
                out = m.run(max_steps)           # its disk is flushed however it ends
        except KeyboardInterrupt as e:
            stop = stopped(e)
            sys.stdout.flush()
            err.print(f"hv: {stop.reason} after {m.core.slots} instructions", markup=False,
                      soft_wrap=True)
            return stop.status
    finally:
        guard.restore()
    sys.stdout.flush()
    mobility.report_missed(points, out.icount)
    if out.kind == "poweroff":
        return out.status & 0xFF
    err.print(f"hv: {stop_text(out.message, out.icount)}", markup=False, soft_wrap=True)
    return EXIT_MAX_STEPS if out.kind == "max-steps" else EXIT_CRASH
