"""The tables `hv boot` prints: `--stats` (like kvm_stat) and the end-of-run summary."""
from __future__ import annotations

from rich.table import Table

from vcpu.isa import CAUSE_TEXT


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
