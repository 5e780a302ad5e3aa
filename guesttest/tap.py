"""TAP (the Test Anything Protocol) as guests print it: `parse_tap(text)` -> `TapReport`."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_PLAN = re.compile(r"^1\.\.(\d+)\s*(?:#\s*(.*))?$")
_RESULT = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?([^#]*?)\s*(?:#\s*(.*))?$")
# SKIP may run on ("skipped"); TODO is a word of its own followed by a space (the rule
# that guests/lib/tap.s, prove and tap.py all accept).
_DIRECTIVE = re.compile(r"^(skip\S*|todo(?=\s|$))\s*(.*)$", re.IGNORECASE)
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
                rep.skip_all = dm.group(2) if dm and dm.group(1)[:4].lower() == "skip" else d
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
                    directive, reason = dm.group(1)[:4].upper(), dm.group(2).strip()
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
