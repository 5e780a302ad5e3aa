"""Options shared by `hv run`, `hv boot` and `hv restore` for strong mobility: snapshots at an
instruction count, and moving a running machine to the other core (brief §8).

Each option becomes a stop point on the machine or guest (`Machine.at` / `VM.at`): the run
loop ends the core's budget exactly there, so the action happens at the instruction boundary
where the count reaches N (the first boundary at or after N when a `wfi` idles across it).
"""
from __future__ import annotations

import argparse
import sys

from .common import err, warn


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


def rate(text: str) -> float:
    """argparse type: bytes per second, '100M' / '512K' / '1G' / a number."""
    t = text.strip().upper().removesuffix("/S").removesuffix("B").removesuffix("I")
    mult = 1
    if t and t[-1] in "KMG":
        mult, t = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[t[-1]], t[:-1]
    try:
        v = float(t) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a rate: {text!r} (e.g. 100M)") from None
    if v <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return v


def millis(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of milliseconds: {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return v


def seconds(text: str) -> float:
    v = millis(text)
    if v <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return v


def tcp_target(text: str) -> str:
    from hypervisor.migrate import parse_target
    try:
        parse_target(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def add_migration_args(p) -> None:
    g = p.add_argument_group("live migration and the monitor")
    g.add_argument("--migrate-at", action="append", type=at_spec, default=[],
                   metavar="[NAME@]N:tcp:HOST:PORT",
                   help="live-migrate guest NAME to another hv (hv boot --incoming) when its "
                   "instruction count reaches N; on any failure it runs on here")
    g.add_argument("--max-downtime", type=millis, default=5.0, metavar="MS",
                   help="longest pause of the guest at switch-over (default 5 ms)")
    g.add_argument("--max-bandwidth", type=rate, default=None, metavar="BYTES/S",
                   help="limit the migration stream, e.g. 100M (default: no limit)")
    g.add_argument("--migrate-timeout", type=seconds, default=5.0, metavar="S",
                   help="give up on a silent peer after S seconds (default 5)")
    g.add_argument("--incoming", type=tcp_target, metavar="tcp:HOST:PORT",
                   help="wait for one migrating guest on HOST:PORT, then run it")
    g.add_argument("--incoming-timeout", type=seconds, default=None, metavar="S",
                   help="with --incoming: give up when no source connects within S seconds")
    g.add_argument("--monitor", metavar="unix:PATH",
                   help="accept QMP-shaped JSON commands on a Unix socket (hv monitor PATH)")


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
    for s in getattr(args, "migrate_at", []) or []:
        if not s.target.startswith("tcp:"):
            raise ValueError(f"--migrate-at {s.n}:{s.target}: use [NAME@]N:tcp:HOST:PORT")
        vm = pick_guest(host, s.name, f"--migrate-at {s.n}:{s.target}")
        vm.at(s.n, lambda vm, s=s: migrate_now(host, vm, s.target, args, s))
        specs.append(s)
    if getattr(args, "monitor", None):
        start_monitor(host, args, params)
    switches = [SnapAt(None, n, "") for n in getattr(args, "switch_core_at", []) or []]
    for s in switches:
        for vm in host.vms:
            def do(vm, s=s):
                switch_guest_core(vm)
                s.done = True
            vm.at(s.n, do)
    return specs + switches


def pick_guest(host, name, what):
    from hypervisor.migrate import pick_guest as pick
    return pick(host, name, what)


def report_missed(specs: list, icount: int) -> None:
    """One line for each stop point the run never reached."""
    for s in specs:
        if not s.done:
            if s.target.startswith("tcp:"):
                what = f"--migrate-at {s.n}:{s.target}: no migration"
            elif s.target:
                what = f"--snapshot-at {s.n}:{s.target}: no snapshot written"
            else:
                what = f"--switch-core-at {s.n}: no switch"
            warn(f"{what}; the run ended at instruction {icount}")


def migrate_now(host, vm, target: str, args, spec=None):
    """Live-migrate `vm` now; one line on stderr either way. Returns the Migration."""
    from hypervisor.migrate import Migration
    mig = Migration(host, vm, target, max_downtime=getattr(args, "max_downtime", 5.0) / 1000,
                    max_bandwidth=getattr(args, "max_bandwidth", None),
                    timeout=getattr(args, "migrate_timeout", 5.0))
    host.migration = mig
    if spec is not None:
        spec.done = True
    n = vm.core.slots
    if mig.run():
        done = " (it finished during pre-copy)" if mig.finished else ""
        vm.state = "running"            # a guest that finished here has moved all the same
        vm.stop("migrated", f"migrated to {target} at instruction {mig.stop_icount}{done}")
        vm.status = 0
        throttled = f"throttled {mig.throttle:.0%}, " if mig.throttle else ""
        err.print(f"hv: {vm.name}: migrated to {target} at instruction {mig.stop_icount} "
                  f"({mig.rounds} rounds, {mig.bytes_sent:,} bytes, {throttled}downtime "
                  f"{mig.downtime_ms:.2f} ms){done}", markup=False, highlight=False,
                  soft_wrap=True)
    else:
        warn(f"{vm.name}: migration to {target} at instruction {n} failed: {mig.error}; "
             "the guest runs on here")
    return mig


def incoming_command(args) -> int:
    """`hv boot --incoming tcp:HOST:PORT`: receive one guest, run it, exit with its status."""
    import socket
    from hypervisor.migrate import MigrationError, listen, receive
    from .common import EXIT_FAILED, fail, stdout_write
    if args.programs or args.host:
        raise ValueError("--incoming receives its guest: give no images or --host")
    try:
        lsock = listen(args.incoming, args.incoming_timeout)
    except OSError as e:
        raise ValueError(f"--incoming {args.incoming}: cannot listen ({e.strerror or e})") from None
    host_, port = lsock.getsockname()[:2]
    from .guard import StopSignals, stopped
    # A signal while waiting or receiving: nothing runs yet, so there is nothing to keep.
    # --timeout counts from when the guest starts running here.
    guard = StopSignals()
    try:
        with guard:
            err.print(f"hv: waiting for a guest on tcp:{host_}:{port}", markup=False,
                      highlight=False)
            sys.stderr.flush()
            try:
                conn, peer = lsock.accept()
            except socket.timeout:
                return fail(f"--incoming {args.incoming}: no source connected within "
                            f"{args.incoming_timeout:g} s", EXIT_FAILED)
            finally:
                lsock.close()
            # The pool grows with the guest: it is sized when HELO says how much memory it has.
            host = _GrowingHost()
            try:
                vm = receive(conn, host, core=getattr(args, "core_given", None) or args.core,
                             console_write=lambda vm, data: stdout_write(data),
                             timeout=args.migrate_timeout)
            except MigrationError as e:
                return fail(f"incoming migration from {peer[0]}:{peer[1]} failed: {e}; "
                            "nothing was started", EXIT_FAILED)
    except KeyboardInterrupt as e:
        stop = stopped(e)
        fail(f"{stop.reason} while waiting for a guest on --incoming {args.incoming}; "
             "nothing was started", stop.status)
        return stop.status
    finally:
        guard.restore()
    params = getattr(vm, "params", {}) or {}
    max_steps = args.max_steps or params.get("max_steps")
    return run_guest_host(host, vm, max_steps, params.get("slice", args.slice),
                          timeout=getattr(args, "timeout", None))


class _GrowingHost:
    """A Host created when the first guest arrives (its pool sized for that guest)."""

    def __init__(self):
        self._host = None

    def add(self, name, image, **kw):
        from hypervisor.host import Host, frames_needed
        from vcpu.isa import PAGE_SIZE
        if self._host is None:
            self._host = Host(frames_needed(kw["mem_size"], kw.get("cpus", 1)) * PAGE_SIZE)
        return self._host.add(name, image, **kw)

    def __getattr__(self, name):
        return getattr(self._host, name)


def start_monitor(host, args, params):
    """--monitor unix:PATH: the QMP-shaped monitor, closed (socket removed) at exit."""
    import atexit
    from hypervisor.monitor import Monitor
    spec = args.monitor
    if not spec.startswith("unix:") or len(spec) <= 5:
        raise ValueError(f"--monitor {spec}: use unix:PATH")
    mon = Monitor(host, spec[5:], params,
                  migrate=lambda vm, uri: migrate_now(host, vm, uri, args))
    atexit.register(mon.close)
    return mon


def run_guest_host(host, vm, max_steps, slice_, trace=None, points=(), stats=False,
                   timeout=None) -> int:
    """Run a host of one (restored or migrated) guest to its end; the exit status as `hv
    boot` gives it. SIGINT, SIGTERM, SIGHUP and `timeout` stop it as `hv boot` does
    (hv/guard.py): the guest stops as interrupted, its disk is flushed, the trace closed."""
    from .common import EXIT_CRASH, EXIT_MAX_STEPS, stop_text
    from .guard import StopSignals, stopped
    stop = None
    guard = StopSignals(timeout)
    try:
        try:
            with guard:
                host.run(slice_=slice_ if isinstance(slice_, int) and slice_ > 0 else 10_000,
                         max_steps=max_steps)
        except KeyboardInterrupt as e:
            stop = stopped(e)
            host.close(stop.reason)
        finally:
            host.close("host stopped")          # the disk flushed even if the run loop failed
            if trace:
                trace.close()
        sys.stdout.flush()
        report_missed(list(points), vm.core.slots)
        if vm.stop_kind != "poweroff":
            err.print(f"hv: {stop_text(vm.reason, vm.core.slots)}", markup=False,
                      highlight=False, soft_wrap=True)
        if stats:
            from .tables import stats_table
            err.print(stats_table(host.vms))
    finally:
        guard.restore()
    if stop is not None:
        return stop.status
    if vm.stop_kind == "max-steps":
        return EXIT_MAX_STEPS
    if vm.stop_kind != "poweroff":
        return EXIT_CRASH
    return vm.status & 0xFF
