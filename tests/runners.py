"""The tests run single guests through the hypervisor package's runner (one helper for the
tests, the benchmarks and the guest test suites)."""
from hypervisor.runner import MODES, Result, run_image

MODES = list(MODES)
__all__ = ["MODES", "Result", "run_image"]
