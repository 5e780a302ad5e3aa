"""Guest test suites: guest programs that test themselves and report in TAP.

A guest test prints TAP (the Test Anything Protocol) on its console and powers off with
status 0 when every test passed:

    1..3
    ok 1 - add wraps
    not ok 2 - sub borrows
    # expected 5, got 4
    # at 0x0000013a
    ok 3 # SKIP no disk

This module is the engine behind `hv test` (hypervisor/testcmd.py) and the pytest plugin
(hypervisor/pytest_plugin.py):

- `parse_tap(text)` reads the console output into a `TapReport`;
- `discover(paths)` finds the guest test files (`test_*.s`, recursing into directories);
- `load_test(path)` assembles one (keeping the line records, to map addresses to lines);
- `run_test(loaded, core, mode)` runs it on one core, on the bare machine or under the
  hypervisor, and judges it: a `GuestTestResult` with the TAP results, the reason for a
  failure, the console tail, the trap trace tail and a full failure text.

A run fails when the guest printed no plan, ran fewer or more tests than planned, printed a
`not ok` (other than a TODO), bailed out, powered off with a non-zero status, faulted,
stopped on its own (double fault, a `wfi` that never wakes) or ran past `max_steps`.
"""
from __future__ import annotations

import fnmatch
import os
import re
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PATTERN = "test_*.s"
DEFAULT_MAX_STEPS = 5_000_000
DEFAULT_MEM = 64 * 1024
CORES = ("c", "py")
MODES = ("bare", "hv")
CONSOLE_TAIL = 20
TRACE_TAIL = 15

# --- TAP ---------------------------------------------------------------------------------

_PLAN = re.compile(r"^1\.\.(\d+)\s*(?:#\s*(.*))?$")
_RESULT = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?([^#]*?)\s*(?:#\s*(.*))?$")
_DIRECTIVE = re.compile(r"^(skip|todo)\S*\s*(.*)$", re.IGNORECASE)
_BAIL = re.compile(r"^Bail out!\s*(.*)$")
_AT = re.compile(r"^at (0x[0-9a-fA-F]+)\s*$")


@dataclass
class TapResult:
    number: int
    ok: bool
    name: str
    directive: str = ""         # "SKIP", "TODO" or ""
    reason: str = ""            # the directive's text
    line: str = ""              # the line as printed
    lineno: int = 0             # 1-based line of the console output
    diagnostics: list[str] = field(default_factory=list)   # "# ..." lines that follow it

    @property
    def failed(self) -> bool:
        return not self.ok and self.directive != "TODO"

    @property
    def skipped(self) -> bool:
        return self.directive == "SKIP"

    def at_address(self) -> int | None:
        """The address of the check, from a `# at 0x...` diagnostic (guests/lib/tap.s)."""
        for d in self.diagnostics:
            m = _AT.match(d)
            if m:
                return int(m.group(1), 16)
        return None


@dataclass
class TapReport:
    plan: int | None = None
    plan_line: int = 0
    skip_all: str | None = None         # `1..0 # SKIP reason`
    results: list[TapResult] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)   # "# ..." before any result
    garbage: list[str] = field(default_factory=list)       # lines that are not TAP
    bail: str | None = None
    errors: list[str] = field(default_factory=list)        # protocol errors

    @property
    def failed(self) -> list[TapResult]:
        return [r for r in self.results if r.failed]

    @property
    def passed(self) -> list[TapResult]:
        return [r for r in self.results if r.ok and not r.skipped]

    @property
    def skipped(self) -> list[TapResult]:
        return [r for r in self.results if r.skipped]

    def problems(self) -> list[str]:
        """Why this TAP stream is a failure (empty when it is a pass)."""
        out = list(self.errors)
        if self.bail is not None:
            out.append(f"bailed out: {self.bail}" if self.bail else "bailed out")
        if self.plan is None:
            if self.results or self.diagnostics:
                out.append("no TAP plan (a line `1..N`) in the output")
            else:
                out.append("no TAP output: no plan (`1..N`) and no `ok`/`not ok` lines")
        elif self.bail is None and len(self.results) != self.plan:
            n = len(self.results)
            out.append(f"planned {self.plan} test{'s' * (self.plan != 1)} but "
                       f"{'only ' if n < self.plan else ''}{n} ran")
        failed = self.failed
        if failed:
            names = ", ".join(f"{r.number}" + (f" ({r.name})" if r.name else "")
                              for r in failed[:5])
            more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
            out.append(f"{len(failed)} of {len(self.results)} failed: {names}{more}")
        return out


def parse_tap(text: str) -> TapReport:
    """Read TAP from a console transcript. Lenient about what it ignores (`TAP version`,
    blank lines, pragmas), strict about what it counts (plan, numbering, results)."""
    rep = TapReport()
    last: TapResult | None = None
    expected_next = 1
    plan_after_results = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        s = line.strip()
        if not s or s.lower().startswith("tap version") or s.startswith("pragma "):
            continue
        if s.startswith("#"):
            d = s[1:].strip()
            (last.diagnostics if last else rep.diagnostics).append(d)
            continue
        m = _PLAN.match(s)
        if m:
            if rep.plan is not None:
                rep.errors.append(f"line {lineno}: a second plan `{s}` "
                                  f"(the first was on line {rep.plan_line})")
                continue
            rep.plan, rep.plan_line = int(m.group(1)), lineno
            if rep.plan == 0:
                d = m.group(2) or ""
                dm = _DIRECTIVE.match(d)
                rep.skip_all = dm.group(2) if dm and dm.group(1).lower() == "skip" else d
            plan_after_results = bool(rep.results)
            continue
        m = _RESULT.match(s)
        if m:
            if plan_after_results:
                rep.errors.append(f"line {lineno}: a result after the plan at the end "
                                  f"(line {rep.plan_line})")
                plan_after_results = False
            number = int(m.group(2)) if m.group(2) else expected_next
            if number != expected_next:
                rep.errors.append(f"line {lineno}: test number {number} out of sequence "
                                  f"(expected {expected_next})")
            expected_next = number + 1
            directive = reason = ""
            if m.group(4) is not None:
                dm = _DIRECTIVE.match(m.group(4).strip())
                if dm:
                    directive, reason = dm.group(1).upper(), dm.group(2).strip()
            last = TapResult(number, m.group(1) == "ok", m.group(3).strip(), directive,
                             reason, line, lineno)
            rep.results.append(last)
            continue
        m = _BAIL.match(s)
        if m:
            rep.bail = m.group(1).strip()
            continue
        rep.garbage.append(line)
    return rep


# --- discovery -----------------------------------------------------------------------------

def is_guest_test(path: Path, pattern: str = DEFAULT_PATTERN) -> bool:
    return fnmatch.fnmatch(path.name, pattern)


def discover(paths, pattern: str = DEFAULT_PATTERN) -> list[Path]:
    """Guest test files under `paths`, in a stable order. A file named on the command line
    is taken whatever its name; directories are searched recursively for `pattern`
    (hidden directories and virtual environments are skipped). Raises FileNotFoundError
    for a path that does not exist."""
    found: list[Path] = []
    seen: set[Path] = set()
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(2, "no such file or directory", str(p))
        if p.is_file():
            files = [p]
        else:
            files = []
            for root, dirs, names in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                                 and d not in ("__pycache__", "node_modules", ".venv"))
                files += [Path(root) / n for n in sorted(names)
                          if fnmatch.fnmatch(n, pattern)]
        for f in files:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                found.append(f)
    return found


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it is under it, else absolute."""
    p = Path(path).absolute()
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def test_id(path: Path | str, core: str, mode: str) -> str:
    return f"{path}::{core}-{mode}"


# --- loading -----------------------------------------------------------------------------

@dataclass
class LoadedTest:
    """An assembled guest test, or why it could not be assembled."""
    path: Path
    image: object = None
    records: list = field(default_factory=list)
    error: str | None = None

    def source_line(self, address: int) -> tuple[str, int, str] | None:
        """(file, line, text) of the top-level source line whose code holds `address`."""
        recs = [r for r in self.records if r.depth == 0 and r.address is not None]
        for i, r in enumerate(recs):
            nxt = recs[i + 1].address if i + 1 < len(recs) else None
            end = nxt if nxt is not None and nxt > r.address else r.address + len(r.data)
            if r.address <= address < end:
                return r.file, r.line, r.text.strip()
        return None


def load_test(path: Path | str) -> LoadedTest:
    """Assemble a guest test source (or read an image); errors go in `.error`."""
    from asm.errors import AsmError
    from asm.loader import SOURCE_SUFFIXES, load_program
    from vcpu.image import ImageError
    path = Path(path)
    try:
        if str(path).endswith(SOURCE_SUFFIXES):
            from asm.assembler import assemble_with_records
            from asm.loader import read_program_bytes
            read_program_bytes(path)            # a clean message for a missing file
            asm = assemble_with_records(str(path))
            return LoadedTest(path, asm.image, asm.records)
        return LoadedTest(path, load_program(path))
    except AsmError as e:
        return LoadedTest(path, error=str(e))
    except (ImageError, OSError) as e:
        return LoadedTest(path, error=str(e))


# --- running -------------------------------------------------------------------------------

class RingSink:
    """A trace sink that keeps the last `n` events in memory, leaving out console writes
    (a TAP guest prints through `out 0x10`, one emulation per byte, which would crowd out
    the traps worth seeing)."""

    def __init__(self, n: int = TRACE_TAIL):
        self.events: deque = deque(maxlen=n)

    def write(self, e: dict) -> None:
        if e["kind"] == "emulate" and (e.get("insn") or "").startswith("out 0x10,"):
            return
        self.events.append(e)

    def close(self) -> None:
        pass


def format_trace_event(e: dict) -> str:
    pc = f"0x{e['pc']:08x} {e.get('sym') or '':<16}" if e.get("pc") is not None else " " * 27
    insn = f"{e.get('insn') or '':<18}"
    return f"{e['icount']:>9} {e['kind']:<11} {pc} {insn} {e.get('what') or ''}".rstrip()


@dataclass
class GuestTestResult:
    path: Path
    core: str
    mode: str
    outcome: str = "fail"          # "pass", "fail" or "skip"
    reason: str = ""
    report: TapReport | None = None
    output: str = ""
    stop_kind: str = ""            # poweroff | max-steps | shutdown | wfi | error | asm
    status: int = 0
    message: str = ""
    icount: int = 0
    duration: float = 0.0
    trace_tail: list[str] = field(default_factory=list)
    where: dict[int, str] = field(default_factory=dict)   # TAP number -> "file:line: text"

    @property
    def id(self) -> str:
        return test_id(display_path(self.path), self.core, self.mode)

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"

    def console_tail(self, n: int = CONSOLE_TAIL) -> list[str]:
        return self.output.splitlines()[-n:]

    def failure_text(self) -> str:
        """Everything a reader needs to see why this run failed."""
        out = [f"{self.id}: {self.reason}"]
        rep = self.report
        if self.stop_kind == "asm":
            return "\n".join(out + ["", self.message])
        if self.stop_kind != "poweroff":
            out.append(f"the guest stopped after {self.icount} instructions: {self.message}")
        if rep is not None:
            for r in rep.failed:
                out.append("")
                out.append(f"failing TAP line {r.lineno}: {r.line.strip()}")
                out += [f"    # {d}" for d in r.diagnostics]
                if r.number in self.where:
                    out.append(f"    check at {self.where[r.number]}")
            if rep.garbage and not rep.results:
                out.append("")
                out.append("the guest printed this instead of TAP:")
                out += ["    " + g for g in rep.garbage[:CONSOLE_TAIL]]
                if len(rep.garbage) > CONSOLE_TAIL:
                    out.append(f"    ... ({len(rep.garbage) - CONSOLE_TAIL} more lines)")
        if rep is not None and rep.results:
            out.append("")
            out.append(f"TAP results ({len(rep.passed)} passed, {len(rep.failed)} failed, "
                       f"{len(rep.skipped)} skipped, {rep.plan if rep.plan is not None else '?'}"
                       f" planned):")
            for r in rep.results:
                mark = "FAIL" if r.failed else ("skip" if r.skipped else "ok")
                out.append(f"    {mark:<4} {r.number:>3} {r.name}"
                           + (f" # {r.directive} {r.reason}".rstrip() if r.directive else ""))
        tail = self.console_tail()
        out.append("")
        if tail:
            out.append(f"console (last {len(tail)} lines of {len(self.output.splitlines())}):")
            out += ["    " + t for t in tail]
        else:
            out.append("console: (nothing printed)")
        out.append("")
        if self.trace_tail:
            out.append(f"trap trace (last {len(self.trace_tail)} events, console writes left "
                       f"out; icount kind pc sym insn what):")
            out += ["    " + t for t in self.trace_tail]
        elif self.mode == "hv":
            out.append("trap trace: (no events)")
        else:
            out.append("trap trace: (the bare machine has no hypervisor; see the -hv run)")
        out.append(f"the guest powered off with status {self.status}" if self.stop_kind ==
                   "poweroff" else f"stop: {self.stop_kind}")
        return "\n".join(out)


def judge(report: TapReport, stop_kind: str, status: int, message: str) -> tuple[str, str]:
    """('pass' | 'fail' | 'skip', reason) for one run."""
    reasons: list[str] = []
    if stop_kind == "max-steps":
        reasons.append(message or "ran past the step limit (--max-steps)")
    elif stop_kind != "poweroff":
        reasons.append(f"guest {stop_kind}: {message}" if message else f"guest {stop_kind}")
    tap = report.problems()
    if stop_kind == "poweroff" or report.results or report.plan is not None:
        reasons += tap
    if stop_kind == "poweroff" and status != 0:
        reasons.append(f"powered off with status {status}")
    if reasons:
        return "fail", "; ".join(reasons)
    if report.plan == 0:
        return "skip", f"skipped: {report.skip_all}" if report.skip_all else "no tests (1..0)"
    n = len(report.results)
    s = len(report.skipped)
    return "pass", f"{n} test{'s' * (n != 1)} passed" + (f" ({s} skipped)" if s else "")


def native_available() -> bool:
    try:
        from vcpu.cores import native_available as avail
    except ImportError:
        return False
    return avail()


def run_test(loaded: LoadedTest, core: str, mode: str, *,
             max_steps: int = DEFAULT_MAX_STEPS, mem_size: int = DEFAULT_MEM,
             trace_last: int = TRACE_TAIL) -> GuestTestResult:
    """Run one guest test on `core` ("c" or "py") in `mode` ("bare" or "hv")."""
    res = GuestTestResult(loaded.path, core, mode)
    if loaded.error is not None:
        res.stop_kind, res.message = "asm", loaded.error
        first = loaded.error.splitlines()[0] if loaded.error else "unknown error"
        res.reason = f"does not assemble: {first}"
        return res
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r} (bare or hv)")
    t0 = time.perf_counter()
    try:
        if mode == "bare":
            _run_bare(res, loaded.image, core, max_steps, mem_size)
        else:
            _run_hv(res, loaded.image, core, max_steps, mem_size, trace_last)
    except (ValueError, MemoryError) as e:    # ImageError (does not fit) and the like
        res.stop_kind, res.message = "error", str(e)
    res.duration = time.perf_counter() - t0
    res.report = parse_tap(res.output)
    res.outcome, res.reason = judge(res.report, res.stop_kind, res.status, res.message)
    for r in res.report.failed:
        addr = r.at_address()
        if addr is not None:
            src = loaded.source_line((addr - 1) & 0xFFFF_FFFF)
            if src:
                f, line, text = src
                res.where[r.number] = f"{display_path(Path(f))}:{line}: {text}"
    return res


def _run_bare(res: GuestTestResult, image, core: str, max_steps: int, mem_size: int) -> None:
    from vcpu.devices import ConsoleInput
    from vcpu.machine import Machine
    m = Machine(image, mem_size=mem_size, core=core, console_input=ConsoleInput(b""))
    out = m.run(max_steps)
    res.output = bytes(m.output).decode("utf-8", "replace")
    res.stop_kind, res.status, res.message, res.icount = out.kind, out.status, out.message, \
        out.icount


def _run_hv(res: GuestTestResult, image, core: str, max_steps: int, mem_size: int,
            trace_last: int) -> None:
    from vcpu.devices import ConsoleInput

    from .host import Host, frames_needed
    from .trace import Tracer
    sink = RingSink(trace_last) if trace_last else None
    tracer = Tracer(sink, [image], ["guest"]) if sink else None
    host = Host(frames_needed(mem_size) * 4096, trace=tracer)
    vm = host.add("guest", image, mem_size=mem_size, core=core,
                  console_input=ConsoleInput(b""))
    try:
        host.run(max_steps=max_steps)
    finally:
        if vm.running:
            host.close()
    res.output = bytes(vm.output).decode("utf-8", "replace")
    res.stop_kind, res.status, res.message = vm.stop_kind, vm.status, vm.reason
    res.icount = vm.core.icount
    if sink:
        res.trace_tail = [format_trace_event(e) for e in sink.events]


# --- -k expressions --------------------------------------------------------------------------

class KeywordError(ValueError):
    pass


def keyword_matcher(expr: str):
    """A predicate on test ids for `-k EXPR`: words match as case-insensitive substrings,
    combined with `and`, `or`, `not` and parentheses (pytest's simple form)."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expr)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def parse_or():
        left = parse_and()
        while peek() == "or":
            take()
            right = parse_and()
            left = (lambda a, b: lambda s: a(s) or b(s))(left, right)
        return left

    def parse_and():
        left = parse_not()
        while peek() == "and":
            take()
            right = parse_not()
            left = (lambda a, b: lambda s: a(s) and b(s))(left, right)
        return left

    def parse_not():
        if peek() == "not":
            take()
            inner = parse_not()
            return lambda s: not inner(s)
        return parse_atom()

    def parse_atom():
        t = peek()
        if t is None:
            raise KeywordError(f"-k {expr!r}: expression ends too early")
        if t == "(":
            take()
            inner = parse_or()
            if peek() != ")":
                raise KeywordError(f"-k {expr!r}: missing ')'")
            take()
            return inner
        if t in (")", "and", "or"):
            raise KeywordError(f"-k {expr!r}: unexpected {t!r}")
        word = take().lower()
        return lambda s: word in s.lower()

    if not tokens:
        return lambda s: True
    pred = parse_or()
    if pos != len(tokens):
        raise KeywordError(f"-k {expr!r}: unexpected {tokens[pos]!r}")
    return pred
