"""The `hv` command line: one package, one module per command (hv/commands/).

The layers below it know nothing of the command line: `asm/` (assembler), `vcpu/` (the ISA,
the cores, the bare machine), `hypervisor/` (the hypervisor), `guesttest/` (guest test
suites), `bench/` (benchmarks).
"""
from __future__ import annotations


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _v
    try:
        return _v("hv")
    except PackageNotFoundError:
        return "0+unknown"
