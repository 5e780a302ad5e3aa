"""Options shared by `hv run`, `hv boot` and `hv restore` for strong mobility: snapshots at an
instruction count, and moving a running machine to the other core (brief §8).

Each option becomes a stop point on the machine or guest (`Machine.at` / `VM.at`): the run
loop ends the core's budget exactly there, so the action happens at the instruction boundary
where the count reaches N (the first boundary at or after N when a `wfi` idles across it).
"""
from __future__ import annotations

import argparse

from .common import warn


class SnapAt:
    def __init__(self, name: str | None, n: int, target: str):
        self.name, self.n, self.target = name, n, target
        self.done = False


def count(text: str) -> int:
    """argparse type: an instruction count >= 0."""
    try:
        n = int(text.replace("_", ""), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an instruction count: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return n


def at_spec(text: str) -> SnapAt:
    """argparse type: `[NAME@]N:TARGET` (a file, or tcp:HOST:PORT for --migrate-at)."""
    name = None
    head, sep, tail = text.partition(":")
    if "@" in head:
        name, _, head = head.partition("@")
        if not name:
            raise argparse.ArgumentTypeError(f"{text!r}: empty guest name before @")
    if not sep or not tail:
        raise argparse.ArgumentTypeError(f"{text!r}: use [NAME@]N:FILE, e.g. 5000:a.snap")
    return SnapAt(name, count(head), tail)


def add_args(p, *, guests: bool) -> None:
    g = p.add_argument_group("snapshots and core switching")
    what = "guest NAME (NAME may be left out with one guest)" if guests else "the machine"
    g.add_argument("--snapshot-at", action="append", type=at_spec, default=[],
                   metavar="[NAME@]N:FILE" if guests else "N:FILE",
                   help=f"write a snapshot of {what} when its instruction count reaches N; "
                   "the run goes on (repeatable)")
    g.add_argument("--switch-core-at", action="append", type=count, default=[], metavar="N",
                   help="move the running machine to the other core (c <-> py) at "
                   "instruction N (repeatable)")


def _write_snapshot(spec: SnapAt, data: bytes) -> None:
    from vcpu.snapshot import write_file
    try:
        write_file(spec.target, data)
        spec.done = True
    except OSError as e:
        warn(f"--snapshot-at {spec.n}:{spec.target}: cannot write ({e.strerror or e}); "
             "the run goes on")
        spec.done = True


def install_machine(m, args, params: dict) -> list:
    """Stop points for a bare machine; returns the specs to check with `report_missed`."""
    from vcpu.snapshot import capture_machine, switch_core
    specs = list(getattr(args, "snapshot_at", []) or [])
    for s in specs:
        if s.name is not None:
            raise ValueError(f"--snapshot-at {s.name}@{s.n}: the bare machine has no guest "
                             "names (use N:FILE)")
        m.at(s.n, lambda m, s=s: _write_snapshot(s, capture_machine(m, params)))
    switches = [SnapAt(None, n, "") for n in getattr(args, "switch_core_at", []) or []]
    for s in switches:
        def do(m, s=s):
            switch_core(m)
            s.done = True
        m.at(s.n, do)
    return specs + switches


def install_guests(host, args, params: dict) -> list:
    """Stop points for guests under the hypervisor (NAME@ picks the guest)."""
    from hypervisor.snapshot import capture_guest, switch_guest_core
    specs = list(getattr(args, "snapshot_at", []) or [])
    for s in specs:
        vm = pick_guest(host, s.name, f"--snapshot-at {s.n}:{s.target}")
        p = dict(params)
        vm.at(s.n, lambda vm, s=s, p=p: _write_snapshot(s, capture_guest(vm, p)))
    switches = [SnapAt(None, n, "") for n in getattr(args, "switch_core_at", []) or []]
    for s in switches:
        for vm in host.vms:
            def do(vm, s=s):
                switch_guest_core(vm)
                s.done = True
            vm.at(s.n, do)
    return specs + switches


def pick_guest(host, name: str | None, what: str):
    if name is None:
        if len(host.vms) != 1:
            raise ValueError(f"{what}: {len(host.vms)} guests; name one as NAME@N "
                             f"({', '.join(vm.name for vm in host.vms)})")
        return host.vms[0]
    for vm in host.vms:
        if vm.name == name:
            return vm
    raise ValueError(f"{what}: no guest named {name!r} "
                     f"(guests: {', '.join(vm.name for vm in host.vms)})")


def report_missed(specs: list, icount: int) -> None:
    """One line for each stop point the run never reached."""
    for s in specs:
        if not s.done:
            what = (f"--snapshot-at {s.n}:{s.target}: no snapshot written" if s.target
                    else f"--switch-core-at {s.n}: no switch")
            warn(f"{what}; the run ended at instruction {icount}")
