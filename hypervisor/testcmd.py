"""`hv test PATHS...`: run guest test suites (TAP guests) on the chosen cores and modes.

Each guest test file runs once per (core, mode): `c` and `py` cores, on the bare machine
(`bare`) and under the hypervisor (`hv`). A rich progress bar shows the runs; failures are
printed in full (the failing TAP lines, the source line of each failed check, the console
tail, the trap trace tail), then a summary table with one row per file. Exit status 0 when
every run passed (skips allowed), 1 when one failed or none ran, 2 for a usage error.
"""
from __future__ import annotations

import argparse
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from . import guesttest as gt
from hypervisor.cli import memory_size, positive_int

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _csv(choices):
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"{text!r}: choose from {', '.join(choices)} (comma-separated)")
        return list(dict.fromkeys(items))
    return parse


def add_test_parser(subparsers) -> argparse.ArgumentParser:
    t = subparsers.add_parser(
        "test", help="run guest test suites (guests that print TAP)",
        description="Find guest test files (test_*.s, searching directories recursively) and "
                    "run each on the chosen cores and modes. A guest test prints TAP "
                    "(1..N, ok 1 - name, not ok 2 - name) and powers off with status 0 when "
                    "all passed; see docs/testing.md.")
    t.add_argument("paths", nargs="*", default=["."], metavar="PATH",
                   help="test files or directories (default: the current directory)")
    t.add_argument("--core", type=_csv(gt.CORES), default=list(gt.CORES), metavar="c,py",
                   help="cores to run on (default: c,py)")
    t.add_argument("--mode", type=_csv(gt.MODES), default=list(gt.MODES), metavar="bare,hv",
                   help="bare machine and/or under the hypervisor (default: bare,hv)")
    t.add_argument("-k", dest="keyword", metavar="EXPR",
                   help="only tests whose id (path::core-mode) contains EXPR; words combine "
                        "with and/or/not, e.g. -k 'paging and not py'")
    t.add_argument("--max-steps", type=positive_int, default=gt.DEFAULT_MAX_STEPS, metavar="N",
                   help=f"fail a guest that runs more than N instructions "
                        f"(default {gt.DEFAULT_MAX_STEPS:,})")
    t.add_argument("--mem", type=memory_size, default=gt.DEFAULT_MEM, metavar="SIZE",
                   help="guest memory, e.g. 64K (default), 128K")
    t.add_argument("--pattern", default=gt.DEFAULT_PATTERN, metavar="GLOB",
                   help=f"file names to collect from directories (default {gt.DEFAULT_PATTERN})")
    t.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML")
    t.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failure")
    t.add_argument("-v", "--verbose", action="store_true",
                   help="print each run's TAP output, not only the failures'")
    t.add_argument("--collect-only", action="store_true",
                   help="list the test ids that would run, and stop")
    t.set_defaults(func=cmd_test)
    return t


def cmd_test(args) -> int:
    from rich.console import Console
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)

    def fail(msg: str, status: int = EXIT_USAGE) -> int:
        err.print(f"[bold red]hv: error:[/] {msg}", soft_wrap=True)
        return status

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

    results = run_all(runs, args, err)
    report(results, args, out)
    if args.junit:
        try:
            write_junit(results, args.junit)
        except OSError as e:
            return fail(f"{args.junit}: {e.strerror or e}")
    ok = results and all(r.outcome != "fail" for r in results) and len(results) == len(runs)
    return EXIT_OK if ok else EXIT_FAILED


def run_all(runs, args, err) -> list[gt.GuestTestResult]:
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)
    native = gt.native_available()
    loaded: dict[Path, gt.LoadedTest] = {}
    results: list[gt.GuestTestResult] = []
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
    return gt.run_test(loaded, core, mode, max_steps=args.max_steps, mem_size=args.mem)


def report(results, args, out) -> None:
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text
    for r in results:
        if r.outcome == "fail":
            out.print(Panel(Text(r.failure_text()), title=f"[bold red]FAILED[/] {r.id}",
                            title_align="left", border_style="red", expand=True))
        elif args.verbose:
            body = r.output.rstrip("\n") or "(nothing printed)"
            out.print(Panel(Text(body), title=f"[green]{r.outcome.upper()}[/] {r.id}",
                            title_align="left", border_style="dim"))

    combos = list(dict.fromkeys((r.core, r.mode) for r in results))
    table = Table(title="guest tests", title_justify="left", header_style="bold")
    table.add_column("file", overflow="fold", min_width=12)
    for core, mode in combos:
        table.add_column(f"{core}-{mode}", justify="center", no_wrap=True,
                         min_width=len(f"{core}-{mode}"))
    table.add_column("time", justify="right", no_wrap=True, min_width=6)
    by_file: dict[str, dict] = {}
    for r in results:
        by_file.setdefault(gt.display_path(r.path), {})[(r.core, r.mode)] = r
    for name, cells in by_file.items():
        row = [name]
        for combo in combos:
            r = cells.get(combo)
            row.append(_cell(r))
        row.append(f"{sum(r.duration for r in cells.values()):.2f}s")
        table.add_row(*row)
    out.print(table)
    n_pass = sum(r.outcome == "pass" for r in results)
    n_fail = sum(r.outcome == "fail" for r in results)
    n_skip = sum(r.outcome == "skip" for r in results)
    checks = sum(len(r.report.results) for r in results if r.report)
    total = sum(r.duration for r in results)
    colour = "red" if n_fail else "green"
    out.print(f"[bold {colour}]{n_pass} passed[/], {n_fail} failed, {n_skip} skipped "
              f"({len(results)} runs of {len(by_file)} file{'s' * (len(by_file) != 1)}, "
              f"{checks} TAP results) in {total:.2f}s")


def _cell(r) -> str:
    if r is None:
        return "[dim]-[/]"
    if r.outcome == "pass":
        n = len(r.report.results) if r.report else 0
        return f"[green]✓ {n}[/]"
    if r.outcome == "skip":
        return "[yellow]skip[/]"
    if r.stop_kind == "asm":
        return "[red]✗ asm[/]"
    if r.report and r.report.failed:
        return f"[red]✗ {len(r.report.failed)}/{len(r.report.results)}[/]"
    return f"[red]✗ {r.stop_kind or 'fail'}[/]"


def write_junit(results, path: str) -> None:
    """JUnit XML, one <testcase> per run: classname = the file, name = core-mode."""
    suite = ET.Element("testsuite", name="hv guest tests", tests=str(len(results)),
                       failures=str(sum(r.outcome == "fail" for r in results)),
                       errors="0", skipped=str(sum(r.outcome == "skip" for r in results)),
                       time=f"{sum(r.duration for r in results):.3f}",
                       timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"))
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=gt.display_path(r.path),
                             name=f"{r.core}-{r.mode}", file=gt.display_path(r.path),
                             time=f"{r.duration:.3f}")
        if r.outcome == "fail":
            f = ET.SubElement(case, "failure", message=_xml_safe(r.reason),
                              type=r.stop_kind or "fail")
            f.text = _xml_safe(r.failure_text())
        elif r.outcome == "skip":
            ET.SubElement(case, "skipped", message=r.reason)
        if r.report:
            props = ET.SubElement(case, "properties")
            for t in r.report.results:
                ET.SubElement(props, "property", name=f"tap.{t.number}",
                              value=("not ok" if not t.ok else "ok") + f" - {t.name}"
                              + (f" # {t.directive} {t.reason}".rstrip() if t.directive else ""))
        if r.output:
            ET.SubElement(case, "system-out").text = _xml_safe(r.output)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    Path(path).write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")


def _xml_safe(text: str) -> str:
    # XML 1.0 cannot carry most control characters, which a misbehaving guest may print.
    return "".join(c if c in "\t\n\r" or ord(c) >= 0x20 else f"\\x{ord(c):02x}" for c in text)


def main(argv=None) -> int:
    """`python -m hypervisor.testcmd ...`: the same command without the `hv` front end."""
    p = argparse.ArgumentParser(prog="hv")
    sub = p.add_subparsers(dest="command")
    add_test_parser(sub)
    args = p.parse_args(["test", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
