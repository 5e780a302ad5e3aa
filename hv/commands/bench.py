"""`hv bench`: every benchmark side by side in one run (bench/)."""
from __future__ import annotations


def register(sub) -> None:
    be = sub.add_parser("bench", help="measure the cores and the hypervisor")
    be.add_argument("--quick", action="store_true", help="short runs (noisier figures)")
    be.add_argument("--only", action="append", metavar="SECTION",
                    help="run only this section (repeatable; see --list)")
    be.add_argument("--list", action="store_true", help="list the sections and stop")
    be.add_argument("--peers", action="store_true",
                    help="also measure Unicorn and Lua 5.4 side by side (the bench extra)")
    be.add_argument("--write", metavar="FILE", help="also write the figures as Markdown")
    be.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    from bench.run import bench_command
    return bench_command(args)
