"""`hv lockstep IMAGE|SOURCE.s`: both cores side by side, compared after every step."""
from __future__ import annotations

from ..common import EXIT_MAX_STEPS, add_machine_args, add_smp_args, load_program


def register(sub) -> None:
    ls = sub.add_parser("lockstep", help="run an image on both cores and compare every step")
    ls.add_argument("program", metavar="IMAGE|SOURCE.s")
    add_machine_args(ls)
    add_smp_args(ls)
    ls.set_defaults(func=cmd_lockstep)


def cmd_lockstep(args) -> int:
    from vcpu.lockstep import run_lockstep_command
    limit = EXIT_MAX_STEPS if args.max_steps is not None else 0
    return run_lockstep_command(load_program(args.program), args.max_steps or 1_000_000,
                                args.mem, limit_status=limit, cpus=args.cpus,
                                quantum=args.quantum)
