"""`hv test PATHS...`: run guest test suites (TAP guests) on the chosen cores and modes.

Each guest test file runs once per (core, mode): `c` and `py` cores, on the bare machine
(`bare`) and under the hypervisor (`hv`). A rich progress bar shows the runs; failures are
printed in full (the failing TAP lines, the source line of each failed check, the console
tail, the trap trace tail), then a summary table with one row per file. Exit status 0 when
every run passed (skips allowed), 1 when one failed or none ran, 2 for a usage error.
"""
from __future__ import annotations

from pathlib import Path

import guesttest as gt
from guesttest.discover import LOADERS
from guesttest.report import report, write_junit

from ..common import (EXIT_FAILED, EXIT_OK, add_smp_args, csv_choice, err, fail, memory_size,
                      positive_int, warn)
from ..guard import StopSignals, add_timeout_arg, check_writable, stopped
from .os import load_os_test

if load_os_test not in LOADERS:
    LOADERS.append(load_os_test)        # a user program (it includes user.s) runs under the OS


def register(sub) -> None:
    t = sub.add_parser(
        "test", help="run guest test suites (guests that print TAP)",
        description="Find guest test files (test_*.s, searching directories recursively) and "
                    "run each on the chosen cores and modes. A guest test prints TAP "
                    "(1..N, ok 1 - name, not ok 2 - name) and powers off with status 0 when "
                    "all passed; see docs/testing.md.")
    t.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                   help="test files or directories (default: the current directory)")
    t.add_argument("--core", type=csv_choice(gt.CORES), default=list(gt.CORES), metavar="c,py",
                   help="cores to run on (default: c,py)")
    t.add_argument("--mode", type=csv_choice(gt.MODES), default=list(gt.MODES), metavar="bare,hv",
                   help="bare machine and/or under the hypervisor (default: bare,hv)")
    t.add_argument("-k", dest="keyword", metavar="EXPR",
                   help="only tests whose id (path::core-mode) contains EXPR; words combine "
                        "with and/or/not, e.g. -k 'paging and not py'")
    t.add_argument("--max-steps", type=positive_int, default=gt.DEFAULT_MAX_STEPS, metavar="N",
                   help=f"fail a guest that runs more than N instructions "
                        f"(default {gt.DEFAULT_MAX_STEPS:,})")
    t.add_argument("--mem", type=memory_size, default=gt.DEFAULT_MEM, metavar="SIZE",
                   help="guest memory, e.g. 64K (default), 128K")
    add_smp_args(t)
    t.add_argument("--pattern", default=gt.DEFAULT_PATTERN, metavar="GLOB",
                   help=f"file names to collect from directories (default {gt.DEFAULT_PATTERN})")
    t.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML")
    t.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failure")
    t.add_argument("-v", "--verbose", action="store_true",
                   help="print each run's TAP output, not only the failures'")
    t.add_argument("--collect-only", action="store_true",
                   help="list the test ids that would run, and stop")
    add_timeout_arg(t)
    t.set_defaults(func=cmd_test)


def cmd_test(args) -> int:
    from rich.console import Console
    out = Console(highlight=False)
    try:
        files = gt.discover(args.paths, args.pattern)
    except FileNotFoundError as e:
        return fail(f"{e.filename}: no such file or directory")
    try:
        selected = gt.keyword_matcher(args.keyword or "")
    except gt.KeywordError as e:
        return fail(str(e))
    runs = [(f, core, mode) for f in files for core in args.core for mode in args.mode
            if selected(gt.test_id(gt.display_path(f), core, mode))]
    if args.collect_only:
        for f, core, mode in runs:
            out.print(gt.test_id(gt.display_path(f), core, mode), soft_wrap=True)
        return EXIT_OK if runs else EXIT_FAILED
    if not runs:
        what = "no guest tests found" if not files else "no guest tests selected (-k)"
        return fail(f"{what} in {', '.join(args.paths)} (files named {args.pattern})",
                    EXIT_FAILED)

    if args.junit:
        check_writable(args.junit, "--junit")    # found now, not after the tests ran
    results: list = []
    stop = None
    guard = StopSignals(getattr(args, "timeout", None))
    try:
        try:
            with guard:
                run_all(runs, args, err, results)
        except KeyboardInterrupt as e:
            stop = stopped(e)
        report(results, args, out)
        if stop is not None:
            err.print(f"hv: {stop.reason} after {len(results)} of {len(runs)} runs",
                      markup=False, soft_wrap=True)
    finally:
        guard.restore()
    if args.junit:
        try:
            write_junit(results, args.junit)
        except OSError as e:       # checked before the run: a late failure (a full disk)
            warn(f"--junit {args.junit}: {e.strerror or e}; the results above stand")
    if stop is not None:
        return stop.status
    ok = results and all(r.outcome != "fail" for r in results) and len(results) == len(runs)
    return EXIT_OK if ok else EXIT_FAILED


def run_all(runs, args, err, results=None) -> list[gt.GuestTestResult]:
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)
    native = gt.native_available()
    loaded: dict[Path, gt.LoadedTest] = {}
    results = [] if results is None else results     # filled as runs finish: kept on Ctrl-C
    failed = 0
    columns = (TextColumn("[bold]hv test"), BarColumn(), MofNCompleteColumn(),
               TextColumn("[red]{task.fields[failed]} failed"), TimeElapsedColumn(),
               TextColumn("{task.description}"))
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("", total=len(runs), failed=0)
        for path, core, mode in runs:
            progress.update(task, description=gt.test_id(gt.display_path(path), core, mode))
            if path not in loaded:
                loaded[path] = gt.load_test(path)
            res = run_one(loaded[path], core, mode, args, native)
            results.append(res)
            if res.outcome == "fail":
                failed += 1
            progress.update(task, advance=1, failed=failed)
            if failed and args.exitfirst:
                break
    return results


def run_one(loaded: gt.LoadedTest, core: str, mode: str, args, native: bool):
    if core == "c" and not native and loaded.error is None:
        from vcpu.cores import require_native
        res = gt.GuestTestResult(loaded.path, core, mode)
        if require_native():
            res.outcome, res.reason = "fail", "HV_REQUIRE_NATIVE=1 but the native core is not built"
        else:
            res.outcome, res.reason = "skip", "the native core (vcpu._core) is not built"
        return res
    return gt.run_test(loaded, core, mode, max_steps=args.max_steps, mem_size=args.mem,
                       cpus=args.cpus, quantum=args.quantum)
