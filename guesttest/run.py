"""Running one guest test on one core, bare or under the hypervisor, and judging it."""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from .defaults import CONSOLE_TAIL, DEFAULT_MAX_STEPS, DEFAULT_MEM, MODES, TRACE_TAIL
from .discover import LoadedTest, display_path, test_id
from .tap import TapReport, parse_tap

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
             trace_last: int = TRACE_TAIL, cpus: int = 1,
             quantum: int | None = None) -> GuestTestResult:
    """Run one guest test on `core` ("c" or "py") in `mode` ("bare" or "hv"), on a machine
    of `cpus` CPUs taking turns of `quantum` slots (brief §11)."""
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
        if loaded.run is not None:
            out, res.stop_kind, res.status, res.message, res.icount = loaded.run(
                core, mode, max_steps)
            res.output = out.decode("utf-8", "replace")
        else:
            _run(res, loaded.image, core, mode, max_steps, mem_size, trace_last, cpus, quantum)
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


def _run(res: GuestTestResult, image, core: str, mode: str, max_steps: int, mem_size: int,
         trace_last: int, cpus: int = 1, quantum: int | None = None) -> None:
    from hypervisor.runner import run_image
    from vcpu.isa import DEFAULT_QUANTUM
    from hypervisor.trace import Tracer
    sink = RingSink(trace_last) if trace_last and mode == "hv" else None
    tracer = Tracer(sink, [image], ["guest"]) if sink else None
    r = run_image(image, core, mode, mem_size=mem_size, max_steps=max_steps, trace=tracer,
                  cpus=cpus, quantum=quantum or DEFAULT_QUANTUM)
    res.output = r.output.decode("utf-8", "replace")
    res.stop_kind, res.status, res.message, res.icount = r.kind, r.status, r.reason, r.icount
    if sink:
        res.trace_tail = [format_trace_event(e) for e in sink.events]
