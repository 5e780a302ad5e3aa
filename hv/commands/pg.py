"""`hv pg PROGRAM`: Popek & Goldberg's three properties, measured for each way to virtualize."""
from __future__ import annotations

import sys

from ..common import load_program, memory_size, positive_int, unescape


def register(sub) -> None:
    p = sub.add_parser(
        "pg", help="check Popek & Goldberg's properties for a program in every mode",
        description="Run PROGRAM on the bare machine and under the hypervisor in each mode "
                    "(--virt trap|hw, --paging shadow|nested) and report equivalence (bare "
                    "vs virtualized, compared), resource control (what the guest was denied; "
                    "a neighbour guest and the free pool untouched) and efficiency (the "
                    "share of instructions that ran without the hypervisor). Exit status 1 "
                    "when equivalence or resource control fails in some mode.")
    p.add_argument("program", metavar="IMAGE|SOURCE.s")
    p.add_argument("--core", choices=["c", "py"], default="c")
    p.add_argument("--mem", type=memory_size, default=65536, help="guest memory (default 64K)")
    p.add_argument("--max-steps", type=positive_int, default=10_000_000, metavar="N",
                   help="stop the program after N instructions in every run (default 10M)")
    p.add_argument("--input", default="", metavar="TEXT", help="console input, C escapes")
    p.set_defaults(func=cmd_pg)


def cmd_pg(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from hypervisor.pg import check
    image = load_program(args.program)
    data = unescape(args.input)
    bare, reports = check(image, core=args.core, mem=args.mem, max_steps=args.max_steps,
                          input_bytes=data)
    con = Console(highlight=False)
    t = Table(title=f"Popek & Goldberg: {args.program} ({bare.icount:,} instructions, "
                    f"{bare.kind}, status {bare.status})", title_justify="left")
    t.add_column("property")
    for r in reports:
        t.add_column(r.mode, justify="right")

    def yes(ok):
        return "[green]holds[/]" if ok else "[bold red]FAILS[/]"

    t.add_row("equivalence (bare = virtualized)", *[yes(r.equivalent) for r in reports])
    t.add_row("resource control", *[yes(r.controlled) for r in reports])
    t.add_row("  neighbour's output unchanged", *[yes(r.neighbour_ok) for r in reports])
    t.add_row("  free pool frames untouched", *[yes(r.pool_clean) for r in reports])
    for key in reports[0].denied if reports else []:
        t.add_row(f"  denied: {key}", *[f"{r.denied[key]:,}" for r in reports])
    t.add_row("efficiency (instructions without the hypervisor)",
              *[f"{r.efficiency:.4%}" for r in reports])
    t.add_row("  exits", *[f"{r.exits:,}" for r in reports])
    t.add_row("  exits per million instructions",
              *[f"{r.exits * 1e6 / max(1, r.instructions):,.0f}" for r in reports])
    con.print(t)
    bad = [r for r in reports if not (r.equivalent and r.controlled)]
    for r in bad:
        for d in r.differences[:5]:
            print(f"hv pg: {r.mode}: {d}", file=sys.stderr)
    return 1 if bad else 0
