"""cffi builder of the native core: `vcpu._core` (API, out-of-line mode).

setup.py names it (`cffi_modules=["native/build_core.py:ffibuilder"]`), so `pip install .`
compiles it. The extension is optional: a machine without a C compiler still installs,
and hv falls back to the reference core with one warning. `HV_REQUIRE_NATIVE=1` makes the
build required (the install fails if it cannot compile).

Extra flags for experiments (sanitizers, profiling): `HV_CFLAGS` and `HV_LDFLAGS`,
whitespace-separated, appended to the defaults.

Run directly (`python native/build_core.py`) it builds in place, next to the sources of
vcpu/ (ignored by git), which is what native/sanitize.sh does in a scratch copy.
"""
from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent


def _cdef() -> str:
    """The declarations between BEGIN CDEF and END CDEF in core.h, one source of truth."""
    text = (HERE / "core.h").read_text()
    m = re.search(r"/\* BEGIN CDEF \*/(.*?)/\* END CDEF \*/", text, re.S)
    if not m:
        raise RuntimeError("native/core.h: no BEGIN CDEF ... END CDEF block")
    return m.group(1)


def _required() -> bool:
    return os.environ.get("HV_REQUIRE_NATIVE", "") not in ("", "0")


# -fno-gcse -fno-crossjumping: keep one indirect jump per instruction handler (GCC otherwise
# merges the dispatch tails into one jump, which the branch predictor cannot follow).
CFLAGS = ["-O2", "-std=gnu11", "-fno-strict-aliasing", "-fno-gcse", "-fno-crossjumping",
          "-Wall", "-Wno-unused-label"]
if os.environ.get("HV_CFLAGS"):
    CFLAGS += shlex.split(os.environ["HV_CFLAGS"])
LDFLAGS = shlex.split(os.environ.get("HV_LDFLAGS", ""))

ffibuilder = FFI()
ffibuilder.cdef(_cdef())
ffibuilder.set_source(
    "vcpu._core",
    '#include "core.h"\n',
    # setuptools wants relative source paths (relative to the project root, where setup.py
    # runs); the include dir is relative too so that an sdist builds anywhere.
    sources=["native/core.c"],
    include_dirs=["native"],
    depends=["native/core.h", "native/opcodes.h"],
    extra_compile_args=CFLAGS,
    extra_link_args=LDFLAGS,
    optional=not _required(),
)

if __name__ == "__main__":
    # Build in place from the project root (relative paths above).
    os.chdir(HERE.parent)
    ffibuilder.compile(verbose=True)
