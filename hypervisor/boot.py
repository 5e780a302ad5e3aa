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


def stats_table(vms) -> Table:
    t = Table(title="hv boot: statistics", title_justify="left")
    for col in ("guest", "state", "instructions", "exits", "emulated", "reflected",
                "injected", "shadow fills/flushes", "efficiency", "core s", "hv s", "memory"):
        t.add_column(col, justify="left" if col in ("guest", "state") else "right")
    tot_i = tot_e = tot_em = 0
    for vm in vms:
        s = vm.stats
        icount = vm.core.icount
        emulated = sum(s.emulated.values())
        exits = sum(v for k, v in s.exits.items() if k != "budget")
        eff = (icount - emulated) / icount if icount else 1.0
        tot_i += icount
        tot_e += exits
        tot_em += emulated
        state = vm.stop_kind or vm.state
        t.add_row(vm.name, state, f"{icount:,}", f"{exits:,}", _fmt(s.emulated),
                  _fmt({CAUSE_TEXT.get(k, k): v for k, v in s.reflected.items()}),
                  _fmt({CAUSE_TEXT.get(k, k): v for k, v in s.injected.items()}),
                  f"{vm.shadow.fills}/{vm.shadow.flushes}", f"{eff:.4%}",
                  f"{s.core_time:.3f}", f"{s.hv_time:.3f}",
                  f"{vm.mem_size // 1024} KiB")
    if len(vms) > 1:
        eff = (tot_i - tot_em) / tot_i if tot_i else 1.0
        t.add_row("total", "", f"{tot_i:,}", f"{tot_e:,}", str(tot_em), "", "", "",
                  f"{eff:.4%}", "", "", "")
    return t


def _fmt(counter) -> str:
    return " ".join(f"{k}:{v}" for k, v in sorted(counter.items(), key=lambda kv: -kv[1])) or "-"


def boot_command(args, load, input_bytes, stdout_write, err) -> int:
    images = [load(p) for p in args.programs]
    names = _names(args.programs)
    disks = args.disk or []
    if len(disks) > len(images):
        raise ValueError(f"{len(disks)} --disk files for {len(images)} guests")
    multi = len(images) > 1
    console = SharedConsole(stdout_write, err, multi)
    pool = sum(frames_needed(args.mem) for _ in images) * PAGE_SIZE
    trace = None
    if args.trace:
        from .trace import open_trace
        trace = open_trace(args.trace, images, names)
    host = Host(pool, trace=trace)
    cin = input_bytes(args)
    for i, (name, image) in enumerate(zip(names, images)):
        console.register(name)
        host.add(name, image, mem_size=args.mem, core=args.core, console_write=console.write,
                 console_input=cin if i == 0 else None,
                 disk=disks[i] if i < len(disks) else None)
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
                      markup=False, highlight=False)
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
