"""Guest test suites: the TAP parser, the runner, `hv test` and the pytest plugin."""
from __future__ import annotations

import importlib.metadata
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import guesttest as gt
from hv.cli import main as hv_main

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
TAP_LIB = ROOT / "guests" / "lib" / "tap.s"
SUITE = ROOT / "guests" / "tests"

PASSING = f""".entry main
.include "{TAP_LIB}"
main:
    PLAN 3
    li   r1, 2
    add  r2, r1, 3
    CHECK_EQ r2, 5, "2 + 3 is 5"
    OK   r1, "r1 is not zero"
    SKIP "nothing to see"
    DONE
"""

FAILING = f""".entry main
.include "{TAP_LIB}"
main:
    PLAN 2
    li   r1, 2
    add  r2, r1, 2
    CHECK_EQ r2, 5, "2 + 2 is 5"
    PASS "this one passes"
    DONE
"""

GARBAGE = """.entry main
main:
    li   r1, msg
    li   r3, 0
next:
    ldb  r2, [r1]
    beq  r2, r3, done
    out  0x10, r2
    add  r1, r1, 1
    jmp  next
done:
    halt
msg: .asciz "Hello, I am not a test\\nreally not\\n"
"""

RUNAWAY = """.entry main
main:
    jmp main
"""

FAULTING = """.entry main
main:
    li   r1, bad
    mtcr evec, r1         ; the handler is the faulting instruction itself
    li   r1, 0
bad:
    div  r1, r1, r1       ; divide by zero in kernel mode at evec: the machine stops
"""

# A guest that misbehaves on the console: control characters in its output and in a test
# name, which JUnit files must still carry as well-formed XML.
NOISY = f""".entry main
.include "{TAP_LIB}"
main:
    PLAN 2
    li   r1, 1
    out  0x10, r1
    li   r1, 0x1b
    out  0x10, r1
    PASS "bell \x07 in a name"
    FAIL "escape \x1b[31m red"
    DONE
"""

TODO_ONLY = f""".entry main
.include "{TAP_LIB}"
main:
    PLAN 4
    PASS "works"
    FAIL "not written yet # TODO later"
    li   r1, 3
    CHECK_EQ r1, 4, "off by one # todo known"
    SKIP "not here"
    DONE
"""

BAD_ASM = f""".entry main
.include "{TAP_LIB}"
main:
    PLAN 1
    ad   r1, r1, 1
    DONE
"""


def write(dirpath: Path, name: str, text: str) -> Path:
    p = dirpath / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


# --- TAP parsing ---------------------------------------------------------------------------

def test_tap_all_passing():
    rep = gt.parse_tap("1..2\nok 1 - a\nok 2 - b\n")
    assert rep.plan == 2 and len(rep.results) == 2
    assert rep.problems() == []
    assert [r.name for r in rep.passed] == ["a", "b"]


def test_tap_missing_plan():
    rep = gt.parse_tap("ok 1 - a\nok 2 - b\n")
    assert any("no TAP plan" in p for p in rep.problems())


def test_tap_fewer_results_than_planned():
    rep = gt.parse_tap("1..3\nok 1 - a\nok 2 - b\n")
    assert rep.problems() == ["planned 3 tests but only 2 ran"]


def test_tap_more_results_than_planned():
    rep = gt.parse_tap("1..1\nok 1 - a\nok 2 - b\n")
    assert rep.problems() == ["planned 1 test but 2 ran"]


def test_tap_not_ok_with_diagnostics():
    rep = gt.parse_tap("1..2\nok 1 - a\nnot ok 2 - b\n# expected 5, got 4\n# at 0x10\n")
    [failed] = rep.failed
    assert failed.number == 2 and failed.name == "b"
    assert failed.diagnostics == ["expected 5, got 4", "at 0x10"]
    assert failed.at_address() == 0x10
    assert rep.problems() == ["1 of 2 failed: 2 (b)"]


def test_tap_skip_and_todo():
    rep = gt.parse_tap("1..3\nok 1 # SKIP no disk\nnot ok 2 - later # TODO not written\n"
                       "ok 3 - c # skipped: slow\n")
    assert rep.problems() == []
    assert [r.number for r in rep.skipped] == [1, 3]
    assert rep.results[0].reason == "no disk"
    assert rep.results[1].directive == "TODO" and not rep.results[1].failed


def test_tap_skip_all():
    rep = gt.parse_tap("1..0 # SKIP no native core\n")
    assert rep.problems() == [] and rep.skip_all == "no native core"
    assert gt.judge(rep, "poweroff", 0, "")[0] == "skip"


def test_tap_plan_at_the_end_and_unnumbered_results():
    rep = gt.parse_tap("ok - a\nok\nnot ok - c # TODO\n1..3\n")
    assert rep.problems() == []
    assert [r.number for r in rep.results] == [1, 2, 3]


def test_tap_garbage_only():
    rep = gt.parse_tap("Hello world\nsegfault (core dumped)\n")
    assert rep.garbage == ["Hello world", "segfault (core dumped)"]
    assert any("no TAP output" in p for p in rep.problems())


def test_tap_garbage_between_results_is_ignored():
    rep = gt.parse_tap("1..1\nstarting up\nok 1 - a\n")
    assert rep.problems() == [] and rep.garbage == ["starting up"]


def test_tap_out_of_sequence_and_second_plan():
    rep = gt.parse_tap("1..2\nok 1\nok 3\n1..2\n")
    probs = rep.problems()
    assert any("out of sequence" in p for p in probs)
    assert any("a second plan" in p for p in probs)


def test_tap_bail_out():
    rep = gt.parse_tap("1..3\nok 1\nBail out! no memory\n")
    assert rep.bail == "no memory"
    assert rep.problems() == ["bailed out: no memory"]


def test_judge_status_and_stops():
    ok = gt.parse_tap("1..1\nok 1\n")
    assert gt.judge(ok, "poweroff", 0, "") == ("pass", "1 test passed")
    verdict, reason = gt.judge(ok, "poweroff", 3, "")
    assert verdict == "fail" and "status 3" in reason
    verdict, reason = gt.judge(gt.parse_tap("1..2\nok 1\n"), "max-steps", 0, "stopped after 9")
    assert verdict == "fail" and "stopped after 9" in reason and "only 1 ran" in reason
    verdict, reason = gt.judge(gt.parse_tap(""), "shutdown", 0, "double fault")
    assert verdict == "fail" and reason == "guest shutdown: double fault"


# --- -k and discovery ------------------------------------------------------------------------

@pytest.mark.parametrize("expr, hits", [
    ("", 4), ("arith", 2), ("arith and hv", 1), ("not py", 3), ("arith or logic", 4),
    ("(c-hv or py-bare) and not logic", 2), ("ARITH", 2), ("nothing", 0)])
def test_keyword_matcher(expr, hits):
    ids = ["a/test_arith.s::c-hv", "a/test_arith.s::py-bare",
           "a/test_logic.s::c-hv", "a/test_logic.s::c-bare"]
    pred = gt.keyword_matcher(expr)
    assert sum(map(pred, ids)) == hits


@pytest.mark.parametrize("expr", ["and", "(a", "a b", "not", "a or"])
def test_keyword_matcher_errors(expr):
    with pytest.raises(gt.KeywordError):
        gt.keyword_matcher(expr)


def test_discover(tmp_path):
    write(tmp_path, "b/test_two.s", PASSING)
    write(tmp_path, "a/test_one.s", PASSING)
    write(tmp_path, "a/helper.s", "nop\n")
    write(tmp_path, ".hidden/test_no.s", PASSING)
    explicit = write(tmp_path, "c/check.s", PASSING)
    found = gt.discover([tmp_path, explicit])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a/test_one.s", "b/test_two.s", "c/check.s"]
    with pytest.raises(FileNotFoundError):
        gt.discover([tmp_path / "missing"])


def test_the_suite_is_found():
    names = {p.name for p in gt.discover([SUITE])}
    assert {"test_arith.s", "test_logic.s", "test_memory.s", "test_branches.s",
            "test_traps.s", "test_paging.s", "test_syscalls.s"} <= names


# --- the runner ----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", gt.MODES)
def test_runner_passing_guest(tmp_path, mode):
    res = gt.run_test(gt.load_test(write(tmp_path, "test_ok.s", PASSING)), "py", mode)
    assert res.outcome == "pass", res.failure_text()
    assert res.reason == "3 tests passed (1 skipped)"
    assert res.stop_kind == "poweroff" and res.status == 0


@pytest.mark.parametrize("mode", gt.MODES)
def test_runner_failing_guest(tmp_path, mode):
    path = write(tmp_path, "test_fail.s", FAILING)
    res = gt.run_test(gt.load_test(path), "py", mode)
    assert res.outcome == "fail"
    assert "1 of 2 failed: 1 (2 + 2 is 5)" in res.reason
    assert "powered off with status 1" in res.reason
    text = res.failure_text()
    assert "not ok 1 - 2 + 2 is 5" in text
    assert "# expected 5, got 4" in text
    # the check is traced back to its source line
    assert res.where[1].endswith(':7: CHECK_EQ r2, 5, "2 + 2 is 5"')
    assert "console (last" in text
    if mode == "hv":
        assert res.trace_tail and "out 0xff" in "\n".join(res.trace_tail)
        assert "trap trace (last" in text


def test_runner_garbage_guest(tmp_path):
    res = gt.run_test(gt.load_test(write(tmp_path, "test_garbage.s", GARBAGE)), "py", "bare")
    assert res.outcome == "fail"
    assert "no TAP output" in res.reason
    text = res.failure_text()
    assert "the guest printed this instead of TAP" in text
    assert "Hello, I am not a test" in text and "really not" in text


@pytest.mark.parametrize("mode", gt.MODES)
def test_runner_runaway_guest(tmp_path, mode):
    res = gt.run_test(gt.load_test(write(tmp_path, "test_loop.s", RUNAWAY)), "py", mode,
                      max_steps=2000)
    assert res.outcome == "fail" and res.stop_kind == "max-steps"
    assert "2000" in res.reason


@pytest.mark.parametrize("mode", gt.MODES)
def test_runner_faulting_guest(tmp_path, mode):
    res = gt.run_test(gt.load_test(write(tmp_path, "test_fault.s", FAULTING)), "py", mode)
    assert res.outcome == "fail"
    assert res.stop_kind not in ("poweroff", "max-steps")
    assert "divide" in res.reason


def test_runner_assembly_error(tmp_path):
    loaded = gt.load_test(write(tmp_path, "test_bad.s", BAD_ASM))
    assert loaded.error and "test_bad.s:5:5: error: unknown mnemonic 'ad'" in loaded.error
    res = gt.run_test(loaded, "py", "bare")
    assert res.outcome == "fail" and res.reason.startswith("does not assemble")
    assert "^" in res.failure_text()


def test_runner_on_both_cores_same_output():
    loaded = gt.load_test(SUITE / "isa" / "test_logic.s")
    if not gt.native_available():
        pytest.skip("the native core is not built")
    outs = {(c, m): gt.run_test(loaded, c, m) for c in gt.CORES for m in gt.MODES}
    assert all(r.passed for r in outs.values())
    assert len({r.output for r in outs.values()}) == 1
    assert len({r.icount for r in outs.values()}) == 1


# --- hv test --------------------------------------------------------------------------------

def hv_test(*argv) -> int:
    return hv_main(["test", *map(str, argv)])


def test_hv_test_passing(tmp_path, capsys):
    write(tmp_path, "test_ok.s", PASSING)
    assert hv_test(tmp_path, "--core", "py") == 0
    out = capsys.readouterr().out
    assert "2 passed, 0 failed" in out and "py-bare" in out and "py-hv" in out


def test_hv_test_failing_and_junit(tmp_path, capsys):
    write(tmp_path, "test_ok.s", PASSING)
    write(tmp_path, "test_fail.s", FAILING)
    write(tmp_path, "test_bad.s", BAD_ASM)
    junit = tmp_path / "out" / "junit.xml"
    junit.parent.mkdir()
    assert hv_test(tmp_path, "--core", "py", "--junit", junit) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "not ok 1 - 2 + 2 is 5" in out
    assert "2 passed, 4 failed" in out
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite.get("tests") == "6" and suite.get("failures") == "4"
    cases = {(Path(c.get("classname")).name, c.get("name")): c for c in suite.iter("testcase")}
    assert set(cases) == {(f, m) for f in ("test_ok.s", "test_fail.s", "test_bad.s")
                          for m in ("py-bare", "py-hv")}
    failure = cases[("test_fail.s", "py-hv")].find("failure")
    assert "1 of 2 failed" in failure.get("message")
    assert "# expected 5, got 4" in failure.text
    assert cases[("test_ok.s", "py-bare")].find("failure") is None
    assert "ok 1 - 2 + 3 is 5" in cases[("test_ok.s", "py-bare")].find("system-out").text
    assert "does not assemble" in cases[("test_bad.s", "py-bare")].find("failure").get("message")


def junit_check(path: Path, tests: int, failures: int, skipped: int) -> None:
    """Read a JUnit file back with junitparser (lxml when installed), recount it, and check
    the junit-10 schema's element and attribute rules."""
    from junitparser import JUnitXml
    from junitparser.junitparser import Failure, Skipped

    from tests.junit_schema import violations
    assert violations(path.read_bytes()) == []
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml) if hasattr(xml, "__iter__") else [xml]
    cases = [c for s in suites for c in s]
    assert len(cases) == tests == sum(int(s.tests) for s in suites)
    failed = [c for c in cases if any(isinstance(r, Failure) for r in c.result)]
    skips = [c for c in cases if any(isinstance(r, Skipped) for r in c.result)]
    assert len(failed) == failures == sum(int(s.failures) for s in suites)
    assert len(skips) == skipped == sum(int(s.skipped or 0) for s in suites)


def test_junit_rules_catch_what_consumers_refuse():
    from tests.junit_schema import violations
    good = b'<testsuites><testsuite name="a" tests="1" failures="0" errors="0">' \
        b'<testcase name="x" classname="f"/></testsuite></testsuites>'
    assert violations(good) == []
    assert violations(good.replace(b'classname="f"', b'classname="f" file="f"'))
    assert violations(good.replace(b'name="a"', b'name="a" file="f"'))
    assert violations(good.replace(b'"f"/>', b'"f"><properties/></testcase>'))
    assert violations(good.replace(b'name="x"', b'name="\x01"'))
    assert violations(good.replace(b'name="x"', b'name="&#27;"'))


def test_hv_test_junit_is_valid_with_a_noisy_guest(tmp_path, capsys):
    pytest.importorskip("junitparser")
    write(tmp_path, "test_ok.s", PASSING)
    write(tmp_path, "test_noisy.s", NOISY)
    write(tmp_path, "test_bad.s", BAD_ASM)
    junit = tmp_path / "junit.xml"
    assert hv_test(tmp_path, "--core", "py", "--junit", junit) == 1
    junit_check(junit, tests=6, failures=4, skipped=0)
    text = junit.read_text()
    assert "\\x1b[31m red" in text and "\\x07" in text


def test_plugin_junitxml_is_valid(pytester):
    pytest.importorskip("junitparser")
    pytester.makefile(".s", test_ok=PASSING, test_noisy=NOISY, test_bad=BAD_ASM)
    pytester.makepyfile(test_plain="import pytest\n"
                        "def test_one():\n    assert 1\n"
                        "def test_skip():\n    pytest.skip('no')\n")
    result = run_plugin(pytester, "--hv-core", "py", "--junitxml", "j.xml")
    result.assert_outcomes(passed=3, failed=3, skipped=1)
    junit_check(pytester.path / "j.xml", tests=7, failures=3, skipped=1)


def test_todo_failures_do_not_fail_the_file(tmp_path, capsys):
    """A TODO test that fails is a known bug: the file powers off with 0, hv test passes it
    and TAP consumers (tap.py, prove) agree."""
    f = write(tmp_path, "test_todo.s", TODO_ONLY)
    loaded = gt.load_test(f)
    for mode in ("bare", "hv"):
        res = gt.run_test(loaded, "py", mode)
        assert (res.stop_kind, res.status, res.outcome) == ("poweroff", 0, "pass"), res.reason
    assert "not ok 2 - not written yet # TODO later" in res.output
    tap = pytest.importorskip("tap.parser")
    lines = list(tap.Parser().parse_text(res.output))
    results = [r for r in lines if r.category == "test"]
    assert len(results) == 4
    assert all(r.ok or r.todo for r in results)
    assert [r.todo for r in results] == [False, True, True, False]


def test_prove_accepts_a_todo_only_file(tmp_path):
    import shutil
    import subprocess
    import sys
    if not shutil.which("prove"):
        pytest.skip("prove (Perl's TAP::Harness) is not installed")
    write(tmp_path, "test_todo.s", TODO_ONLY)
    hv = f"{sys.executable} -m hv run"
    p = subprocess.run(["prove", "--exec", hv, "test_todo.s"], cwd=tmp_path, text=True,
                       capture_output=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0 and "Result: PASS" in p.stdout, p.stdout + p.stderr


def test_hv_test_keyword_and_collect_only(tmp_path, capsys):
    write(tmp_path, "test_ok.s", PASSING)
    write(tmp_path, "test_fail.s", FAILING)
    assert hv_test(tmp_path, "--core", "py", "-k", "ok and bare", "--collect-only") == 0
    out = capsys.readouterr().out.split()
    assert len(out) == 1 and out[0].endswith("test_ok.s::py-bare")
    assert hv_test(tmp_path, "--core", "py", "-k", "not fail") == 0
    assert hv_test(tmp_path, "--core", "py", "-k", "fail and hv") == 1


def test_hv_test_usage_errors(tmp_path, capsys):
    assert hv_test(tmp_path / "missing") == 2
    assert "no such file" in capsys.readouterr().err
    assert hv_test(tmp_path) == 1                    # nothing to run
    assert "no guest tests found" in capsys.readouterr().err
    write(tmp_path, "test_ok.s", PASSING)
    assert hv_test(tmp_path, "-k", "(ok") == 2
    assert hv_test(tmp_path, "-k", "zzz") == 1
    with pytest.raises(SystemExit) as e:
        hv_test(tmp_path, "--core", "java")
    assert e.value.code == 2


def test_hv_test_table_fits_80_columns(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    write(tmp_path, "guests/tests/kernel/test_syscalls_long.s", PASSING)
    assert hv_test("guests", "--core", "py") == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(map(len, lines)) <= 80
    header = next(ln for ln in lines if ln.startswith("file"))
    assert header.split() == ["file", "py-bare", "py-hv", "time"]
    assert sum("test_syscalls_long.s" in ln for ln in lines) == 1     # one line, not folded


def test_hv_test_max_steps(tmp_path, capsys):
    write(tmp_path, "test_loop.s", RUNAWAY)
    assert hv_test(tmp_path, "--core", "py", "--mode", "bare", "--max-steps", "500") == 1
    assert "stopped after 500 instructions" in capsys.readouterr().out


# --- the pytest plugin ----------------------------------------------------------------------

def _plugin_args() -> list[str]:
    """Enable the plugin in a pytester run, unless the entry point already does."""
    eps = importlib.metadata.entry_points(group="pytest11")
    if any(ep.value == "guesttest.pytest_plugin" for ep in eps):
        return []
    return ["-p", "guesttest.pytest_plugin"]


def run_plugin(pytester, *args):
    return pytester.runpytest(*_plugin_args(), "-p", "no:cacheprovider", *args)


def test_plugin_collects_items_per_core_and_mode(pytester):
    pytester.makefile(".s", test_ok=PASSING)
    pytester.makefile(".s", helper="nop\n")          # not a guest test: not collected
    result = run_plugin(pytester, "--collect-only", "-q")
    lines = [ln for ln in result.outlines if "::" in ln]
    assert lines == ["test_ok.s::c-bare", "test_ok.s::c-hv", "test_ok.s::py-bare",
                     "test_ok.s::py-hv"]


def test_plugin_passing_and_failing(pytester):
    pytester.makefile(".s", test_ok=PASSING, test_fail=FAILING)
    result = run_plugin(pytester, "--hv-core", "py")
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    assert "test_fail.s::py-hv" in out
    assert "not ok 1 - 2 + 2 is 5" in out
    assert "# expected 5, got 4" in out
    assert 'test_fail.s:7: CHECK_EQ r2, 5, "2 + 2 is 5"' in out
    assert "console (last" in out and "trap trace (last" in out


def test_plugin_assembly_error_is_one_failing_item(pytester):
    pytester.makefile(".s", test_bad=BAD_ASM, test_ok=PASSING)
    result = run_plugin(pytester, "--hv-core", "py", "--hv-mode", "bare")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "test_bad.s::assemble" in out
    assert "test_bad.s:5:5: error: unknown mnemonic 'ad'" in out


def test_plugin_garbage_output(pytester):
    pytester.makefile(".s", test_garbage=GARBAGE)
    result = run_plugin(pytester, "--hv-core", "py", "--hv-mode", "hv")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no TAP output*", "*Hello, I am not a test*"])


def test_plugin_leaves_python_tests_alone(pytester):
    pytester.makepyfile(test_plain="def test_one():\n    assert 1 + 1 == 2\n")
    pytester.makefile(".s", test_ok=PASSING)
    result = run_plugin(pytester, "--hv-core", "py", "test_plain.py")
    result.assert_outcomes(passed=1)
    result = run_plugin(pytester, "--hv-core", "py", "-k", "test_plain")
    result.assert_outcomes(passed=1, deselected=2)


def test_plugin_guest_paths_restrict_collection(pytester):
    pytester.makeini("[pytest]\nhv_guest_paths = suite\n")
    write(pytester.path, "suite/test_ok.s", PASSING)
    write(pytester.path, "fixtures/test_notaguest.s", "this is not assembly\n")
    result = run_plugin(pytester, "--hv-core", "py", "--hv-mode", "bare")
    result.assert_outcomes(passed=1)
    # a file named on the command line is collected wherever it is
    result = run_plugin(pytester, "--hv-core", "py", "fixtures/test_notaguest.s")
    result.assert_outcomes(failed=1)


def test_plugin_with_xdist(pytester):
    pytest.importorskip("xdist")
    pytester.makefile(".s", test_ok=PASSING, test_fail=FAILING)
    result = run_plugin(pytester, "--hv-core", "py", "-n", "2")
    result.assert_outcomes(passed=2, failed=2)


def test_plugin_verbose_ids_name_the_file(pytester):
    pytester.makefile(".s", test_ok=PASSING)
    result = run_plugin(pytester, "--hv-core", "py", "-v")
    result.stdout.fnmatch_lines(["test_ok.s::py-bare PASSED*", "test_ok.s::py-hv PASSED*"])
    assert "test_ok::s" not in result.stdout.str()


def test_plugin_keyword_selects_what_hv_test_selects(pytester, capsys):
    write(pytester.path, "suite/test_ok.s", "halt\n")        # collected, never run here
    write(pytester.path, "suite/test_fail.s", "halt\n")
    for expr in ("ok and hv", "hv", "not hv", "fail or bare", "py-bare", "not (ok and bare)"):
        result = run_plugin(pytester, "--hv-core", "py", "-k", expr, "--collect-only", "-q",
                            "suite")
        pytest_ids = sorted(ln for ln in result.outlines if "::" in ln)
        capsys.readouterr()
        hv_test("suite", "--core", "py", "-k", expr, "--collect-only")
        hv_ids = sorted(capsys.readouterr().out.split())
        assert pytest_ids == hv_ids and pytest_ids, expr


def test_plugin_bad_option_is_one_usage_error(pytester):
    pytester.makefile(".s", test_ok=PASSING, test_two=PASSING)
    result = run_plugin(pytester, "--hv-core", "x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert err.count("ERROR") == 1 and "--hv-core" in err and "choose from c, py" in err
    assert "collection" not in result.stdout.str()
