"""pytest plugin: guest test files (`test_*.s`) become pytest items.

Registered through the `pytest11` entry point (`hv = "guesttest.pytest_plugin"`); without
it, enable it with `pytest -p guesttest.pytest_plugin`. Disable it with `-p no:hv`.

Each guest test file is collected as a `GuestTestFile` with one item per core and mode,
`test_syscalls.s::c-bare`, `::c-hv`, `::py-bare`, `::py-hv`, in that order on every worker
(so `pytest -n auto` works). An item runs the guest in-process (guesttest/run.py)
and fails with the failing TAP lines, the source line of each failed check, the console
tail and, under the hypervisor, the trap trace tail. A file that does not assemble is one
failing item, `FILE::assemble`, with the assembler's `file:line:col` diagnostics.

Options (command line, or ini keys in [tool.pytest.ini_options]):
  --hv-core c,py        hv_cores = "c,py"          cores to run on
  --hv-mode bare,hv     hv_modes = "bare,hv"       modes to run in
  --hv-max-steps N      hv_max_steps = 5000000     step limit per run
  --hv-mem SIZE         hv_mem = "64K"             guest memory
                        hv_guest_pattern = "test_*.s"
                        hv_guest_paths = [...]     only collect guest tests under these
                                                   directories (files named on the command
                                                   line are always collected)
`-k EXPR` selects what `hv test -k EXPR` selects: the items carry no marker (a marker's
name is a keyword that would match every item). To run only the guest tests, name their
directory (`pytest guests/tests`); to leave them out, `-p no:hv` or name `tests/`.
Nothing is recorded as a JUnit property inside a testcase (the junit-10 schema has none).
"""
from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

import guesttest as gt


def pytest_addoption(parser) -> None:
    group = parser.getgroup("hv", "hv guest tests (TAP guests, test_*.s)")
    group.addoption("--hv-core", metavar="c,py", default=None,
                    help="cores to run guest tests on (default: ini hv_cores or c,py)")
    group.addoption("--hv-mode", metavar="bare,hv", default=None,
                    help="modes to run guest tests in (default: ini hv_modes or bare,hv)")
    group.addoption("--hv-max-steps", metavar="N", type=int, default=None,
                    help=f"step limit per guest run (default {gt.DEFAULT_MAX_STEPS})")
    group.addoption("--hv-mem", metavar="SIZE", default=None,
                    help="guest memory per run (default 64K)")
    parser.addini("hv_cores", "cores for guest tests (comma-separated)", default="c,py")
    parser.addini("hv_modes", "modes for guest tests (comma-separated)", default="bare,hv")
    parser.addini("hv_max_steps", "step limit per guest run", default=str(gt.DEFAULT_MAX_STEPS))
    parser.addini("hv_mem", "guest memory per run", default="64K")
    parser.addini("hv_guest_pattern", "file names of guest tests", default=gt.DEFAULT_PATTERN)
    parser.addini("hv_guest_paths", "directories (relative to the rootdir) whose guest test "
                  "files are collected; empty: anywhere", type="paths", default=[])


def pytest_configure(config) -> None:
    # Check the options once, up front: a bad --hv-core is one usage error, not one
    # collection error per guest test file.
    _settings(config)


def _list(config, option: str, ini: str, choices) -> list[str]:
    text = config.getoption(option) or config.getini(ini)
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    bad = [t for t in items if t not in choices]
    if bad or not items:
        flag = "--" + option.replace("_", "-")
        raise pytest.UsageError(f"{flag} / {ini}: {text!r}: choose from {', '.join(choices)}")
    return list(dict.fromkeys(items))


def _settings(config) -> dict:
    cached = getattr(config, "_hv_guest_settings", None)
    if cached is None:
        from vcpu.units import parse_size
        try:
            mem = parse_size(config.getoption("hv_mem") or config.getini("hv_mem"))
            steps = int(config.getoption("hv_max_steps") or int(config.getini("hv_max_steps")))
        except ValueError as e:
            raise pytest.UsageError(f"hv guest tests: {e}") from None
        cached = {"cores": _list(config, "hv_core", "hv_cores", gt.CORES),
                  "modes": _list(config, "hv_mode", "hv_modes", gt.MODES),
                  "mem": mem, "max_steps": steps}
        config._hv_guest_settings = cached
    return cached


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix != ".s":
        return None
    config = parent.config
    if not fnmatch.fnmatch(file_path.name, config.getini("hv_guest_pattern")):
        return None
    if not parent.session.isinitpath(file_path):
        roots = config.getini("hv_guest_paths")
        if roots and not any(_is_under(file_path, Path(r)) for r in roots):
            return None
    return GuestTestFile.from_parent(parent, path=file_path)


def _is_under(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


class GuestTestFile(pytest.File):
    """One guest test source: assembled once, run once per core and mode."""

    def collect(self):
        self.loaded = gt.load_test(self.path)
        if self.loaded.error is not None:
            yield GuestTestItem.from_parent(self, name="assemble", core=None, mode=None)
            return
        s = _settings(self.config)
        for core in s["cores"]:
            for mode in s["modes"]:
                yield GuestTestItem.from_parent(self, name=f"{core}-{mode}", core=core,
                                                mode=mode)


class GuestTestFailure(Exception):
    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


class GuestTestItem(pytest.Item):
    def __init__(self, *, core, mode, **kw):
        super().__init__(**kw)
        self.core = core
        self.mode = mode
        self.result: gt.GuestTestResult | None = None

    def runtest(self) -> None:
        loaded = self.parent.loaded
        if loaded.error is not None:
            raise GuestTestFailure(f"{self.path.name} does not assemble:\n\n{loaded.error}")
        if self.core == "c" and not gt.native_available():
            from vcpu.cores import require_native
            if require_native():
                raise GuestTestFailure("HV_REQUIRE_NATIVE=1 but the native core "
                                       "(vcpu._core) is not built")
            pytest.skip("the native core (vcpu._core) is not built")
        s = _settings(self.config)
        res = gt.run_test(loaded, self.core, self.mode, max_steps=s["max_steps"],
                          mem_size=s["mem"])
        self.result = res
        if res.outcome == "skip":
            pytest.skip(res.reason)
        if res.outcome == "fail":
            raise GuestTestFailure(res.failure_text())

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, GuestTestFailure):
            return excinfo.value.text
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        # The domain is the item's own name: pytest shows `-v` lines as the node id with
        # the domain's dots turned into `::` (right for `Class.method`, wrong for
        # `test_arith.s`), so a domain with the file name in it would read test_arith::s.
        return self.path, None, self.name
