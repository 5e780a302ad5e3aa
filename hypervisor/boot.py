"""`hv boot`: guests under the hypervisor, their console, and the summary."""
from __future__ import annotations

import os
import sys

from rich.table import Table
from rich.text import Text

from vcpu.isa import CAUSE_TEXT, PAGE_SIZE

from .host import Host, frames_needed

COLOURS = ["cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta"]
EXIT_MAX_STEPS, EXIT_CRASH = 124, 125


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
        buf += data
        while b"\n" in buf:
            line, _, rest = bytes(buf).partition(b"\n")
            self._emit(vm.name, line)
            buf[:] = rest

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


def _names(paths: list[str]) -> list[str]:
    names, seen = [], {}
    for p in paths:
        base = os.path.splitext(os.path.basename(p))[0] or "guest"
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}{seen[base]}")
    return names


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
            elif name == "state":
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


def boot_command(args, load, input_bytes, stdout_write, err) -> int:
    images = [load(p) for p in args.programs]
    names = _names(args.programs)
    disks = args.disk or []
    if len(disks) > len(images):
        raise ValueError(f"{len(disks)} --disk files for {len(images)} guests")
    weights = args.weight or []
    if len(weights) > len(images):
        raise ValueError(f"{len(weights)} --weight values for {len(images)} guests")
    multi = len(images) > 1
    console = SharedConsole(stdout_write, err, multi)
    pool = sum(frames_needed(args.mem) for _ in images) * PAGE_SIZE
    trace = None
    if args.trace:
        from .cli import trace_filter
        from .trace import open_trace
        trace = open_trace(args.trace, images, names, trace_filter(args), args.trace_last)
    host = Host(pool, trace=trace)
    cin = input_bytes(args)
    for i, (name, image) in enumerate(zip(names, images)):
        console.register(name)
        host.add(name, image, mem_size=args.mem, core=args.core, console_write=console.write,
                 console_input=cin if i == 0 else None,
                 disk=disks[i] if i < len(disks) else None,
                 weight=weights[i] if i < len(weights) else 1)
    try:
        host.run(slice_=args.slice, max_steps=args.max_steps)
    except KeyboardInterrupt:
        host.close()
        err.print("hv: interrupted")
    finally:
        if trace:
            trace.close()
    sys.stdout.flush()
    status = 0
    for vm in host.vms:
        console.finish(vm.name)
        if vm.stop_kind != "poweroff":
            where = f"{vm.name}: " if multi else ""
            err.print(f"hv: {where}{vm.reason} after {vm.core.icount} instructions",
                      markup=False, highlight=False, soft_wrap=True)
    if multi:
        sys.stdout.flush()
    if args.stats:
        err.print(stats_table(host.vms))
    for vm in host.vms:
        if vm.stop_kind == "max-steps":
            return EXIT_MAX_STEPS
        if vm.stop_kind != "poweroff":
            return EXIT_CRASH
    for vm in host.vms:
        if vm.status & 0xFF:
            return vm.status & 0xFF
    return status
