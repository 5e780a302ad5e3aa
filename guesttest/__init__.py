"""Guest test suites: guest programs that test themselves and report in TAP.

A guest test prints TAP (the Test Anything Protocol) on its console and powers off with
status 0 when every test passed:

    1..3
    ok 1 - add wraps
    not ok 2 - sub borrows
    # expected 5, got 4
    # at 0x0000013a
    ok 3 # SKIP no disk

This package is the engine behind `hv test` (hv/commands/test.py) and the pytest plugin
(guesttest/pytest_plugin.py), one module per step:

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

from .defaults import (CONSOLE_TAIL, CORES, DEFAULT_MAX_STEPS, DEFAULT_MEM, DEFAULT_PATTERN,
                       MODES, TRACE_TAIL)
from .discover import LoadedTest, discover, display_path, is_guest_test, load_test, test_id
from .run import GuestTestResult, RingSink, format_trace_event, judge, native_available, run_test
from .select import KeywordError, keyword_matcher
from .tap import TapReport, TapResult, parse_tap

__all__ = ["CONSOLE_TAIL", "CORES", "DEFAULT_MAX_STEPS", "DEFAULT_MEM", "DEFAULT_PATTERN",
           "MODES", "TRACE_TAIL", "LoadedTest", "discover", "display_path", "is_guest_test",
           "load_test", "test_id", "GuestTestResult", "RingSink", "format_trace_event", "judge",
           "native_available", "run_test", "KeywordError", "keyword_matcher", "TapReport",
           "TapResult", "parse_tap"]
