"""Choosing a core: "c" (native, vcpu._core built by cffi) or "py" (the reference core).

`make_core("c")` falls back to the reference core with one warning on stderr per process
when the extension is not built, unless HV_REQUIRE_NATIVE=1, which makes that an error.
"""
from __future__ import annotations

import os
import sys

from .isa import DEFAULT_QUANTUM
from .refcore import RefCore

KINDS = ("c", "py")

_native_cls = None
_native_error: str | None = None
_warned = False


class NativeUnavailable(RuntimeError):
    """The native core was required (HV_REQUIRE_NATIVE=1) but is not built."""


def require_native() -> bool:
    return os.environ.get("HV_REQUIRE_NATIVE", "") not in ("", "0")


def _load_native():
    global _native_cls, _native_error
    if _native_cls is None and _native_error is None:
        try:
            from .native import NativeCore
            _native_cls = NativeCore
        except ImportError as e:        # the extension was not built (no compiler?)
            _native_error = str(e) or type(e).__name__
    return _native_cls


def native_available() -> bool:
    """True when the C core (vcpu._core) is built and importable."""
    return _load_native() is not None


def available_kinds() -> list[str]:
    """The core kinds that really run here (the reference core always does)."""
    return ["c", "py"] if native_available() else ["py"]


def make_core(kind: str = "c", mem_size: int = 65536, memory: bytearray | None = None, *,
              cpus: int = 1, quantum: int = DEFAULT_QUANTUM):
    """A core of `kind` ("c" or "py") with `mem_size` bytes of memory (or `memory`): a
    machine of `cpus` CPUs taking turns of `quantum` slots (vcpu/multi.py)."""
    global _warned
    if kind not in KINDS:
        raise ValueError(f"unknown core {kind!r} (choose from {', '.join(KINDS)})")
    if kind == "c":
        cls = _load_native()
        if cls is not None:
            return cls(mem_size, memory, cpus=cpus, quantum=quantum)
        if require_native():
            raise NativeUnavailable(
                "the native core (vcpu._core) is not built and HV_REQUIRE_NATIVE=1: "
                f"{_native_error}; install with a C compiler (pip install .)")
        if not _warned:
            _warned = True
            print("hv: warning: the native core is not built; using the (much slower) "
                  "reference core. Install with a C compiler to build it.", file=sys.stderr)
    return RefCore(mem_size, memory, cpus=cpus, quantum=quantum)
