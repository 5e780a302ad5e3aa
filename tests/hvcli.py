"""Running the `hv` command from tests: in-process (fast, the usual way) or as a real
process (for what only a process shows: the console script, signals, pipes, the exit of
the interpreter).

    hv(*args, input=b"")       -> Result(status, out, err)     hv.cli.main(argv) in-process
    hv_proc(*args, input=b"")  -> Result(status, out, err)     python -m hv, a subprocess

Both run in the repository's root (so `guests/hello.s` works), return stdout and stderr
as text and check that no Python traceback reached stderr.
"""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent


class Result(NamedTuple):
    status: int
    out: str
    err: str

    # subprocess.CompletedProcess spellings, for tests that read bytes
    @property
    def returncode(self) -> int:
        return self.status

    @property
    def stdout(self) -> bytes:
        return self.out.encode("utf-8", "surrogateescape")     # the exact bytes

    @property
    def stderr(self) -> bytes:
        return self.err.encode("utf-8", "replace")


def _stream(data: bytes = b"") -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape",
                            write_through=True)


def hv(*args, input: bytes | None = b"", cwd: Path | None = None, env: dict | None = None
       ) -> Result:
    """`hv ARGS...` through hv.cli.main in this process. `input` is the piped stdin (None:
    no stdin at all). Output comes back as UTF-8 text (bytes that are not UTF-8 kept as
    surrogate escapes: `Result.stdout` gives the exact bytes back)."""
    from hv.cli import main
    out, err = _stream(), _stream()
    stdin = _stream(input) if input is not None else None
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.chdir(cwd or ROOT))
        stack.enter_context(mock.patch.object(sys, "stdin", stdin))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        # Output goes to a pipe here, so no terminal width applies, whatever the test runner
        # set (pytest-xdist workers inherit COLUMNS); a test that wants one passes env.
        stack.enter_context(mock.patch.dict(os.environ, env or {}))
        for var in ("COLUMNS", "LINES"):
            if var not in (env or {}):
                os.environ.pop(var, None)
        try:
            status = main([str(a) for a in args])
        except SystemExit as e:              # argparse: usage errors, --help, --version
            status = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    res = Result(status, out.buffer.getvalue().decode("utf-8", "surrogateescape"),
                 err.buffer.getvalue().decode("utf-8", "replace"))
    assert "Traceback" not in res.err, res.err
    return res


def hv_proc(*args, input: bytes | None = b"", cwd: Path | None = None, timeout: float = 120,
            env: dict | None = None) -> Result:
    """`python -m hv ARGS...` as a real process."""
    p = subprocess.run([sys.executable, "-m", "hv", *map(str, args)], cwd=cwd or ROOT,
                       input=input, stdin=None if input is not None else subprocess.DEVNULL,
                       capture_output=True, timeout=timeout,
                       env={**os.environ, **(env or {})})
    res = Result(p.returncode, p.stdout.decode("utf-8", "surrogateescape"),
                 p.stderr.decode("utf-8", "replace"))
    assert "Traceback" not in res.err, res.err
    return res
