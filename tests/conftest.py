"""Shared fixtures: `core_kind` runs a test on both cores, `make` builds one of that kind.

The native core is optional at install time. Tests that need it skip when it is not built,
and fail loudly instead when HV_REQUIRE_NATIVE=1 (CI sets it, so that a broken build is
not silently replaced by the reference core).
"""
from __future__ import annotations

import pytest

from vcpu.cores import make_core, native_available, require_native

CORE_KINDS = ["c", "py"]


def need_native() -> None:
    """Skip (or, with HV_REQUIRE_NATIVE=1, fail) when the native core is not built."""
    if native_available():
        return
    if require_native():
        pytest.fail("HV_REQUIRE_NATIVE=1 but the native core (vcpu._core) is not built",
                    pytrace=False)
    pytest.skip("the native core (vcpu._core) is not built")


@pytest.fixture(params=CORE_KINDS)
def core_kind(request) -> str:
    """Each core kind in turn: "c" (native) and "py" (reference)."""
    if request.param == "c":
        need_native()
    return request.param


@pytest.fixture
def make(core_kind):
    """make(mem_size=..., memory=None) -> a core of the current kind."""
    def _make(mem_size: int = 65536, memory: bytearray | None = None):
        return make_core(core_kind, mem_size=mem_size, memory=memory)
    return _make


@pytest.fixture
def native():
    """Require the native core for this test."""
    need_native()
