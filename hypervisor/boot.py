"""`hv boot`: guests under the hypervisor, their console, and the summary."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text

from vcpu.isa import CAUSE_TEXT, PAGE_SIZE

from .host import Host, frames_needed

COLOURS = ["cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta"]
EXIT_MAX_STEPS, EXIT_CRASH = 124, 125
LINE_MAX = 4096          # a console line longer than this is shown in pieces


class SharedConsole:
    """One host console for all guests. A single guest's bytes pass through untouched (so its
    output is byte-identical to the bare machine); with several guests each line is prefixed
    with the guest's name and colour, and lines are never interleaved."""

    def __init__(self, raw_write, err_console, multi: bool):
        self.raw_write = raw_write
        self.err = err_console
        self.multi = multi
        self.partial: dict[str, bytearray] = {}
        self.colour: dict[str, str] = {}
        self.width = 0

    def register(self, name: str) -> None:
        self.colour[name] = COLOURS[len(self.colour) % len(COLOURS)]
        self.partial[name] = bytearray()
        self.width = max(self.width, len(name))

    def write(self, vm, data: bytes) -> None:
        if not self.multi:
            self.raw_write(data)
            return
        buf = self.partial[vm.name]
        if b"\n" in data:
            lines = (bytes(buf) + data).split(b"\n")
            for line in lines[:-1]:
                self._emit(vm.name, line)
            buf[:] = lines[-1]
        else:
            buf += data
        # A guest that never ends its line must not grow the host without bound.
        while len(buf) >= LINE_MAX:
            self._emit(vm.name, bytes(buf[:LINE_MAX]) + " ↵".encode())
            del buf[:LINE_MAX]

    def finish(self, name: str) -> None:
        if self.multi and self.partial.get(name):
            self._emit(name, bytes(self.partial[name]))
            self.partial[name].clear()

    def _emit(self, name: str, line: bytes) -> None:
        prefix = f"[{name}]".ljust(self.width + 2)
        text = Text(prefix + " ", style=self.colour[name])
        text.append(line.decode("utf-8", "replace"))
        self.out.print(text, soft_wrap=True)

    @property
    def out(self):
        from rich.console import Console
        if not hasattr(self, "_out"):
            self._out = Console(highlight=False)
        return self._out


@dataclass
class GuestSpec:
    """One guest of a host description."""
    program: str
    name: str = ""
    mem: int | None = None
    weight: int = 1
    disk: str | None = None


SPEC_KEYS = ("name", "mem", "weight", "disk")


def parse_guest_arg(text: str) -> GuestSpec:
    """`PATH[:key=value,...]`, e.g. `guests/kernel.s:mem=128K,weight=2,name=os`."""
    path, sep, opts = text.rpartition(":")
    if not sep or "=" not in opts:
        return GuestSpec(text)
    spec = GuestSpec(path)
    for item in opts.split(","):
        key, _, value = item.partition("=")
        _set(spec, key.strip(), value.strip(), text)
    return spec


def _set(spec: GuestSpec, key: str, value, where: str) -> None:
    from vcpu.machine import parse_size
    if key not in SPEC_KEYS:
        raise ValueError(f"{where}: unknown guest setting {key!r} (use {', '.join(SPEC_KEYS)})")
    if key == "mem":
        spec.mem = value if isinstance(value, int) else parse_size(str(value))
    elif key == "weight":
        try:
            spec.weight = int(value)
        except ValueError:
            raise ValueError(f"{where}: weight must be a whole number, not {value!r}") from None
        if spec.weight < 1:
            raise ValueError(f"{where}: weight must be at least 1")
    else:
        setattr(spec, key, str(value))


def load_host_file(path: str) -> tuple[dict, list[GuestSpec]]:
    """A host description in TOML:

        [host]
        memory = "1M"        # the pool (default: what the guests need)
        slice = 10000

        [[guest]]
        image = "guests/kernel.s"
        name = "os"
        mem = "128K"
        weight = 2
        disk = "os.img"
    """
    import tomllib
    from vcpu.machine import parse_size
    with open(path, "rb") as f:
        try:
            doc = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: {e}") from None
    base = os.path.dirname(os.path.abspath(path))
    host = dict(doc.get("host", {}))
    unknown = set(host) - {"memory", "slice"}
    if unknown:
        raise ValueError(f"{path}: unknown [host] setting {sorted(unknown)[0]!r} "
                         "(use memory, slice)")
    if "memory" in host:
        host["memory"] = parse_size(str(host["memory"]))
    if "slice" in host and (not isinstance(host["slice"], int) or host["slice"] < 1):
        raise ValueError(f"{path}: [host] slice must be a whole number of instructions > 0")
    if not isinstance(doc.get("guest", []), list):
        raise ValueError(f"{path}: guests are [[guest]] tables")
    guests = []
    for i, g in enumerate(doc.get("guest", []), 1):
        if not isinstance(g, dict) or not isinstance(g.get("image"), str):
            raise ValueError(f"{path}: guest {i} has no image")
        spec = GuestSpec(os.path.join(base, g["image"]))
        for k, v in g.items():
            if k != "image":
                _set(spec, k, os.path.join(base, v) if k == "disk" else v, f"{path}: guest {i}")
        guests.append(spec)
    if not guests:
        raise ValueError(f"{path}: no [[guest]] entries")
    return host, guests


def _name_guests(specs: list[GuestSpec]) -> None:
    seen: dict[str, int] = {}
    for spec in specs:
        base = spec.name or os.path.splitext(os.path.basename(spec.program))[0] or "guest"
        seen[base] = seen.get(base, 0) + 1
        spec.name = base if seen[base] == 1 else f"{base}{seen[base]}"


def stats_rows(vm) -> dict[str, float | int | str]:
    """One guest's figures, by row name (in display order)."""
    s = vm.stats
    icount = vm.core.icount
    emulated = sum(s.emulated.values())
    rows: dict = {"state": vm.stop_kind or vm.state,
                  "guest instructions": icount,
                  "  run directly on the core": icount - emulated,
                  "  emulated by the hypervisor": emulated,
                  "efficiency (direct / total)": (icount - emulated) / icount if icount else 1.0,
                  "exits (total)": sum(v for k, v in s.exits.items() if k != "budget")}
    for cause, n in sorted(s.exits.items(), key=lambda kv: str(kv[0])):
        if cause.startswith("trap:"):
            c = int(cause[5:])
            rows[f"  exit: {CAUSE_TEXT.get(c, c)}"] = n
    rows["  exit: budget (slice or timer)"] = s.exits.get("budget", 0)
    for m, n in sorted(s.emulated.items()):
        rows[f"emulate {m}"] = n
    for c, n in sorted(s.reflected.items()):
        rows[f"reflect {CAUSE_TEXT.get(c, c)}"] = n
    for c, n in sorted(s.injected.items()):
        rows[f"inject {CAUSE_TEXT.get(c, c)}"] = n
    rows["slices (cut short by I/O limit)"] = f"{s.slices:,} ({s.throttled:,})"
    rows["shadow fills"] = vm.shadow.fills
    rows["shadow flushes"] = vm.shadow.flushes
    rows["time in core (s)"] = s.core_time
    rows["time in hypervisor (s)"] = s.hv_time
    rows["memory (KiB)"] = vm.mem_size // 1024
    return rows


def stats_table(vms) -> Table:
    """Like kvm_stat: one row per event, one column per guest, and a total."""
    per = [stats_rows(vm) for vm in vms]
    names: list[str] = []
    for r in per:
        names += [k for k in r if k not in names]
    t = Table(title="hv boot --stats", title_justify="left")
    t.add_column("event")
    for vm in vms:
        t.add_column(vm.name, justify="right")
    multi = len(vms) > 1
    if multi:
        t.add_column("total", justify="right")
    for name in names:
        vals = [r.get(name, 0) for r in per]
        cells = [_cell(name, v) for v in vals]
        if multi:
            if name.startswith("efficiency"):
                tot_i = sum(r["guest instructions"] for r in per)
                tot_d = sum(r["  run directly on the core"] for r in per)
                cells.append(_cell(name, tot_d / tot_i if tot_i else 1.0))
            elif any(isinstance(v, str) for v in vals):
                cells.append("")
            else:
                cells.append(_cell(name, sum(vals)))
        t.add_row(name, *cells)
    return t


def _cell(name: str, v) -> str:
    if isinstance(v, str):
        return v
    if name.startswith("efficiency"):
        return f"{v:.4%}"
    if isinstance(v, float):
        return f"{v:.3f}"
    return f"{v:,}"


def summary_table(vms) -> Table:
    """The end of a multi-guest run: how each guest ended and what it used."""
    total = sum(vm.core.icount for vm in vms) or 1
    t = Table(title="hv boot: guests", title_justify="left")
    for col in ("guest", "state", "reason", "instructions", "exits", "CPU share", "memory"):
        t.add_column(col, justify="right" if col in ("instructions", "exits", "CPU share",
                                                     "memory") else "left")
    for vm in vms:
        exits = sum(v for k, v in vm.stats.exits.items() if k != "budget")
        reason = vm.reason if vm.stop_kind != "poweroff" else f"status {vm.status}"
        t.add_row(vm.name, vm.stop_kind or vm.state, reason, f"{vm.core.icount:,}",
                  f"{exits:,}", f"{vm.core.icount / total:.1%}", f"{vm.mem_size // 1024} KiB")
    pool = vms[0].pool
    t.add_row("total", "", f"host pool {pool.size // 1024} KiB", f"{total:,}", "", "100%",
              f"{sum(vm.mem_size for vm in vms) // 1024} KiB")
    return t


def boot_command(args, load, input_bytes, stdout_write, err) -> int:
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
    _name_guests(specs)
    for spec in specs:
        spec.mem = spec.mem or args.mem
    images = [load(spec.program) for spec in specs]
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
        from .cli import trace_filter
        from .trace import open_trace
        trace = open_trace(args.trace, images, names, trace_filter(args), args.trace_last)
    host = Host(pool, trace=trace)
    cin = input_bytes(args)
    for i, (spec, image) in enumerate(zip(specs, images)):
        console.register(spec.name)
        host.add(spec.name, image, mem_size=spec.mem, core=args.core,
                 console_write=console.write, console_input=cin if i == 0 else None,
                 disk=spec.disk, weight=spec.weight)
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
        return 130
    for vm in host.vms:
        if vm.stop_kind == "max-steps":
            return EXIT_MAX_STEPS
        if vm.stop_kind != "poweroff":
            return EXIT_CRASH
    for vm in host.vms:
        if vm.status & 0xFF:
            return vm.status & 0xFF
    return 0
