"""The tables `hv boot` prints: `--stats` (like kvm_stat) and the end-of-run summary.

Both fit an 80-column terminal for the README's three guests: no vertical rules, numbers
never wrap, headers are never cut; only a free-text column (a stop reason) is shortened,
and the full text is printed above the table anyway."""
from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text

from vcpu.isa import CAUSE_TEXT


def stats_rows(vm) -> dict[str, float | int | str]:
    """One guest's figures, by row name (in display order)."""
    s = vm.stats
    core = vm.core
    smp = core.ncpus > 1
    icount = core.slots if smp else core.icount      # all vCPUs' slots together
    emulated = sum(s.emulated.values())
    rows: dict = {"state": vm.stop_kind or vm.state,
                  "guest instructions": icount,
                  "  run on the core": icount - emulated,
                  "  emulated": emulated,
                  "efficiency (direct)": (icount - emulated) / icount if icount else 1.0,
                  # every return from the core, so the rows below add up to it
                  "exits (total)": sum(s.exits.values())}
    for cause, n in sorted(s.exits.items(), key=lambda kv: str(kv[0])):
        if cause.startswith("trap:"):
            c = int(cause[5:])
            rows[f"  {CAUSE_TEXT.get(c, c)}"] = n
        elif cause != "budget":
            rows[f"  {cause}"] = n
    rows[BUDGET_ROW] = s.exits.get("budget", 0)
    for m, n in sorted(s.emulated.items()):
        rows[f"emulate {m}"] = n
    for c, n in sorted(s.reflected.items()):
        rows[f"reflect {CAUSE_TEXT.get(c, c)}"] = n
    for c, n in sorted(s.injected.items()):
        rows[f"inject {CAUSE_TEXT.get(c, c)}"] = n
    rows["slices (I/O-throttled)"] = f"{s.slices:,} ({s.throttled:,})"
    vcpus = getattr(vm, "vcpus", None)
    shadows = [v.shadow for v in vcpus] if vcpus else [vm.shadow]
    rows["shadow fills"] = sum(sh.fills for sh in shadows)
    rows["shadow flushes"] = sum(sh.flushes for sh in shadows)
    if smp:
        # per vCPU: its clock, the idle slots in it (waiting in wfi), its exits
        for k, cpu in enumerate(core.cpus):
            rows[f"vCPU {k:2d} slots (idle)"] = f"{cpu.icount:,} ({cpu.idle:,})"
            rows[f"vCPU {k:2d} exits"] = s.cpu_exits.get(k, 0)
    rows["time in core (s)"] = s.core_time
    rows["time in hypervisor (s)"] = s.hv_time
    rows["memory (KiB)"] = vm.mem_size // 1024
    return rows


BUDGET_ROW = "  end of slice or timer"
HEAD_ROWS = ["state", "guest instructions", "  run on the core", "  emulated",
             "efficiency (direct)", "exits (total)"]
TAIL_ROWS = ["slices (I/O-throttled)", "shadow fills", "shadow flushes", "time in core (s)",
             "time in hypervisor (s)", "memory (KiB)"]
SECTIONS = ("emulate ", "reflect ", "inject ")


def row_order(name: str) -> tuple:
    """Where a row goes: the head, the exits by kind, then emulations, reflections and
    injections by name, then the tail. Guests with different rows (one emulated a `halt`,
    one did not) still get one table in this order."""
    if name in HEAD_ROWS:
        return (0, HEAD_ROWS.index(name), "")
    if name == BUDGET_ROW:
        return (1, 1, "")
    if name.startswith("  "):
        return (1, 0, name)
    for i, prefix in enumerate(SECTIONS):
        if name.startswith(prefix):
            return (2 + i, 0, name)
    if name in TAIL_ROWS:
        return (5, TAIL_ROWS.index(name), "")
    return (6, 0, name)


def stats_table(vms) -> Table:
    """Like kvm_stat: one row per event, one column per guest, and a total."""
    per = [stats_rows(vm) for vm in vms]
    names = sorted({k for r in per for k in r}, key=row_order)
    t = Table(title="hv boot --stats", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
              pad_edge=False)
    t.add_column("event", no_wrap=True, overflow="ellipsis")
    for vm in vms:
        t.add_column(Text(vm.name), justify="right", no_wrap=True, overflow="ellipsis")
    multi = len(vms) > 1
    if multi:
        t.add_column("total", justify="right", no_wrap=True)
    for name in names:
        vals = [r.get(name, 0) for r in per]
        cells = [_cell(name, v) for v in vals]
        if multi:
            if name.startswith("efficiency"):
                tot_i = sum(r["guest instructions"] for r in per)
                tot_d = sum(r["  run on the core"] for r in per)
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
    pool = vms[0].pool
    t = Table(title="hv boot: guests", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
              pad_edge=False, caption=f"host pool {pool.size // 1024:,} KiB",
              caption_justify="left")
    for col in ("guest", "state", "reason", "instructions", "exits", "CPU", "memory"):
        numeric = col in ("instructions", "exits", "CPU", "memory")
        t.add_column(col, justify="right" if numeric else "left", no_wrap=True,
                     overflow="ellipsis", min_width=len(col),
                     ratio=1 if col == "reason" else None)
    for vm in vms:
        exits = sum(vm.stats.exits.values())
        if vm.stop_kind == "poweroff":
            reason = f"status {vm.status}"
        elif vm.stop_kind == "max-steps":
            reason = "--max-steps"          # the count is in the next column
        else:
            reason = vm.reason
        # Names and reasons are plain text: a guest called [host] keeps its brackets.
        t.add_row(Text(vm.name), vm.stop_kind or vm.state, Text(reason), f"{vm.core.icount:,}",
                  f"{exits:,}", f"{vm.core.icount / total:.1%}", f"{vm.mem_size // 1024} KiB")
    t.add_row("total", "", "", f"{total:,}", "", "100%",
              f"{sum(vm.mem_size for vm in vms) // 1024} KiB")
    return t
