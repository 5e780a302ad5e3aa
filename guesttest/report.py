"""Reporting guest test runs: failure panels, the summary table, JUnit XML."""
from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

from .discover import display_path


def report(results, args, out) -> None:
    from rich import box
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
    # No vertical rules, so a path of 40 characters and four runs fit 80 columns; a longer
    # path folds (it is never cut: it names the file to open).
    table = Table(title="guest tests", title_justify="left", header_style="bold",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  collapse_padding=True)
    table.add_column("file", overflow="fold", min_width=12)
    for core, mode in combos:
        table.add_column(f"{core}-{mode}", justify="center", no_wrap=True,
                         min_width=len(f"{core}-{mode}"))
    table.add_column("time", justify="right", no_wrap=True, min_width=6)
    by_file: dict[str, dict] = {}
    for r in results:
        by_file.setdefault(display_path(r.path), {})[(r.core, r.mode)] = r
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
    """JUnit XML, one <testcase> per run: classname = the file, name = core-mode.

    Written to what the common consumers accept (the Jenkins xunit plugin's junit-10.xsd,
    junitparser): only the attributes and children that schema names (no `file`, no
    `properties` in a testcase), and no character that XML 1.0 cannot carry. The TAP
    lines of each run are in its system-out."""
    suite = ET.Element("testsuite", name="hv guest tests", tests=str(len(results)),
                       failures=str(sum(r.outcome == "fail" for r in results)),
                       errors="0", skipped=str(sum(r.outcome == "skip" for r in results)),
                       time=f"{sum(r.duration for r in results):.3f}",
                       timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"))
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=_xml_safe(display_path(r.path)),
                             name=f"{r.core}-{r.mode}", time=f"{r.duration:.3f}")
        if r.outcome == "fail":
            f = ET.SubElement(case, "failure", message=_xml_safe(r.reason),
                              type=r.stop_kind or "fail")
            f.text = _xml_safe(r.failure_text())
        elif r.outcome == "skip":
            ET.SubElement(case, "skipped", message=_xml_safe(r.reason))
        if r.output:
            ET.SubElement(case, "system-out").text = _xml_safe(r.output)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    Path(path).write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")


def _xml_safe(text: str) -> str:
    """`text` with what XML 1.0 cannot carry (most control characters, which a misbehaving
    guest may print, lone surrogates, U+FFFE and U+FFFF) written as \\xHH / \\uHHHH."""
    return "".join(c if c in "\t\n\r" or (0x20 <= ord(c) < 0xD800) or
                   (0xE000 <= ord(c) <= 0xFFFD) or ord(c) >= 0x10000
                   else (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
                   for c in text)
